// The part of Svix the core uses: implemented by src/svix (the only importer of the svix SDK).
import type { PlatformEvent } from "../event.ts";
import type { AttemptOutcome } from "./ledger.ts";

export interface OutgoingMessage {
  appUid: string;
  appName: string;
  project: string;
  eventType: string;
  /** The id Svix deduplicates on (the event id, or a digest of it where Svix cannot take it). */
  eventId: string;
  idempotencyKey: string;
  payload: PlatformEvent;
}

export interface SentMessage {
  /** null when Svix answered 409: it already holds a message with this eventId. */
  messageId: string | null;
  duplicate: boolean;
  httpStatus: number;
}

/** One HTTP call made to Svix (a delivery may make several: retries). */
export interface SvixCall {
  operation: string;
  outcome: AttemptOutcome | "ok";
  /** The message Svix created or returned (message.create). */
  messageId?: string;
  startedAt: Date;
  durationMs: number;
  /** Svix's status; undefined for timeouts and network errors. */
  httpStatus?: number;
  /** The failure, as an AppError code and message; undefined on success. */
  errorCode?: string;
  error?: string;
}

export interface CallOptions {
  /** Epoch ms after which no further Svix call may start (the request's time budget). */
  deadline?: number;
  /** Told about every Svix call actually made. */
  onCall?: (call: SvixCall) => void;
  /** An operator's deliberate call: while the circuit is open it may go through as the probe. */
  probe?: boolean;
  /** The caller booked its slot with reserveCall() and waited for it. */
  reserved?: boolean;
}

/**
 * The part of Svix the core uses (implemented by src/svix). Failures are thrown as AppError:
 * svix_rejected (permanent), svix_rate_limited / svix_unavailable / svix_unauthorized /
 * svix_circuit_open / overloaded (retryable, the last two without any call made).
 */
export interface SvixGateway {
  createMessage(message: OutgoingMessage, options?: CallOptions): Promise<SentMessage>;
  /** Milliseconds until this instance may call Svix again (Retry-After window, open circuit, pacing); 0 when it may. */
  waitMs(): number;
  /** Like waitMs, but only for what stops every call (Retry-After window, open circuit), not pacing. */
  blockedMs(): number;
  /** True while every place for a Svix call on this instance is taken. */
  saturated(): boolean;
  /**
   * Resolves true once a place for a Svix call is free (at once if one is), false after maxWaitMs
   * without one. Waiters are told in turn, one per place freed; a place is not held for them.
   */
  whenRoom(maxWaitMs: number): Promise<boolean>;
  /**
   * Books the next slot the pace allows, for a caller that can wait: milliseconds to wait first;
   * undefined (nothing booked) when the slot is further away than maxWaitMs.
   */
  reserveCall(maxWaitMs?: number): number | undefined;
  /** True while the circuit is half-open: the next call is the one probe. */
  probing(): boolean;
  /** Epoch ms of the last time Svix answered again after failing (the circuit closed); 0 if never. */
  recoveredAt(): number;
}

export interface AppPortalRequest {
  appUid: string;
  appName: string;
  project: string;
  /** 3600..604800 (Svix's limits); Svix's default (7 days) when absent. */
  expirySeconds?: number;
  readOnly?: boolean;
  featureFlags?: string[];
}

/** An event type as Svix's catalog should hold it. */
export interface EventTypeDefinition {
  /** Used in a Svix path: a safe Svix id (src/core/svixIdentifiers.ts). */
  name: string;
  description: string;
  /** JSON Schemas of the payload keyed by version ("1"), or null for none. */
  schemas: Record<string, Record<string, unknown>> | null;
}

/** Svix beyond message delivery: the customers' app portal and the event-type catalog (src/svix). */
export interface SvixAdmin {
  appPortalAccess(input: AppPortalRequest, options?: CallOptions): Promise<{ url: string; token: string }>;
  /**
   * Makes Svix hold this definition: created when it has none, updated when its description or
   * schemas differ (an archived or deprecated flag set in Svix is kept), left alone otherwise.
   */
  ensureEventType(input: EventTypeDefinition, options?: CallOptions): Promise<"created" | "updated" | "unchanged">;
}
