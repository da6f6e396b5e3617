import type { PlatformEvent } from "./event.ts";
import type { Transport } from "./transport.ts";

export type NotificationStatus = "received" | "delivered" | "failed" | "rejected";
/**
 * What one Svix call ended in. `duplicate`: Svix already had the message (409 on eventId);
 * `ok`: a successful call that is not the message itself (the application get-or-create).
 */
export type AttemptOutcome = "delivered" | "duplicate" | "ok" | "retryable" | "rejected";
/** What started a delivery attempt. */
export type AttemptTrigger = "ingress" | "redrive" | "replay";

export interface NotificationRecord {
  eventId: string;
  project: string;
  type: string;
  status: NotificationStatus;
  /** Svix calls made for it (one DeliveryAttempt each). */
  attempts: number;
  /** Deliveries that ended `failed`; drives the redrive backoff. */
  failures: number;
  svixAppId: string | null;
  svixMessageId: string | null;
  lastErrorCode: string | null;
  lastError: string | null;
  payload: PlatformEvent;
  transport: Transport;
  claimExpiresAt: Date | null;
  nextAttemptAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
  deliveredAt: Date | null;
}

export type NotificationSummary = Omit<NotificationRecord, "payload">;

export interface AttemptRecord {
  trigger: AttemptTrigger;
  operation: string;
  startedAt: Date;
  durationMs: number;
  outcome: AttemptOutcome;
  httpStatus?: number;
  errorCode?: string;
  error?: string;
  svixMessageId?: string;
}

export interface AttemptView extends AttemptRecord {
  id: string;
}

/** The end of a claimed delivery: the Svix calls made (one attempt each) and the status they lead to. */
export interface Completion {
  attempts: AttemptRecord[];
  status: Exclude<NotificationStatus, "received">;
  /** Why it failed or was rejected (the last error). */
  errorCode?: string;
  error?: string;
  svixAppId?: string;
  svixMessageId?: string;
  /** For `failed`: when a redrive may try again. */
  nextAttemptAt?: Date;
}

export interface NotificationFilter {
  status?: NotificationStatus;
  project?: string;
  /** 1..500 */
  limit: number;
}

/** The ledger the core needs (implemented by src/db/notificationStore.ts). */
export interface NotificationLedger {
  /** Inserts the event as `received`, owned by claimToken until claimExpiresAt; false if the id exists. */
  insertClaimed(event: PlatformEvent, transport: Transport, claimToken: string, claimExpiresAt: Date): Promise<boolean>;
  /**
   * Takes over an existing notification that is `failed`, or `received` with an expired claim.
   * Conditional on the row's state, so only one caller can win. `dueOnly`: a failed one only
   * once its nextAttemptAt has passed (the redrive loop's rule; a redelivery need not wait).
   * `includeRejected`: a rejected one too (operator replay).
   */
  takeOver(eventId: string, claimToken: string, claimExpiresAt: Date, now: Date, options?: { dueOnly?: boolean; includeRejected?: boolean }): Promise<boolean>;
  /** Records the attempt and moves the notification out of `received`, if claimToken still owns it. */
  complete(eventId: string, claimToken: string, completion: Completion): Promise<void>;
  get(eventId: string): Promise<NotificationRecord | null>;
  attemptsOf(eventId: string): Promise<AttemptView[]>;
  /** Newest first, without payloads (a page of 500 events near 1 MiB each would not fit in memory). */
  list(filter: NotificationFilter): Promise<NotificationSummary[]>;
  /** Notifications due for a redrive: failed with nextAttemptAt passed, or received with an expired claim. */
  due(now: Date, limit: number): Promise<NotificationRecord[]>;
  ping(): Promise<void>;
}

/** Project ↔ Svix Application mapping. */
export interface ApplicationDirectory {
  find(project: string): Promise<SvixApp | null>;
  save(project: string, app: SvixApp): Promise<void>;
}

export interface SvixApp {
  /** Svix's own id, app_… */
  id: string;
  uid: string;
}

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

/** One HTTP call made to Svix (a delivery may make several: retries, the application lookup). */
export interface SvixCall {
  operation: string;
  outcome: AttemptOutcome;
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
}

/**
 * The part of Svix the core uses (implemented by src/svix). Failures are thrown as AppError:
 * svix_rejected (permanent), svix_rate_limited / svix_unavailable / svix_circuit_open /
 * overloaded (retryable, often without any call made).
 */
export interface SvixGateway {
  getOrCreateApplication(input: { uid: string; name: string; project: string }, options?: CallOptions): Promise<SvixApp>;
  createMessage(message: OutgoingMessage, options?: CallOptions): Promise<SentMessage>;
  /** Seconds until this instance may call Svix again (a Retry-After window, an open circuit); 0 when it may. */
  pausedForSeconds?(): number;
}

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
