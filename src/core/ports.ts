import type { ErrorDetail } from "../errors.ts";
import type { PlatformEvent } from "./event.ts";
import type { Transport } from "./transport.ts";

/**
 * received: claimed, a delivery is running (or its owner died and the claim will expire);
 * queued: the ledger owns it and the dispatcher will deliver it; delivered: Svix holds it;
 * rejected: Svix refused it for good; failed: the dispatcher gave up after the retry horizon.
 */
export type NotificationStatus = "received" | "queued" | "delivered" | "rejected" | "failed";
export const NOTIFICATION_STATUSES: readonly NotificationStatus[] = [
  "received",
  "queued",
  "delivered",
  "rejected",
  "failed",
];

/** What one Svix call ended in. `duplicate`: Svix already had the message (409 on eventId). */
export type AttemptOutcome = "delivered" | "duplicate" | "retryable" | "rejected";
/** What started a delivery attempt. */
export type AttemptTrigger = "ingress" | "dispatch" | "replay";

/** A notification without its payload: what lists, duplicates and polls read. */
export interface NotificationSummary {
  eventId: string;
  project: string;
  type: string;
  status: NotificationStatus;
  /** Svix calls made for it (one DeliveryAttempt each). */
  attemptCount: number;
  /** Deliveries that ended in a retryable failure; drives the dispatcher's backoff. */
  failures: number;
  svixAppUid: string | null;
  svixMessageId: string | null;
  lastErrorCode: string | null;
  lastError: string | null;
  /** sha256 of the event's canonical JSON (null on rows from before it was kept). */
  payloadDigest: string | null;
  /** When the payload was purged (retention) or erased; null while it is kept. */
  payloadPurgedAt: Date | null;
  transport: Transport;
  claimExpiresAt: Date | null;
  nextAttemptAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
  deliveredAt: Date | null;
}

export interface NotificationRecord extends NotificationSummary {
  /** Null once purged or erased. */
  payload: PlatformEvent | null;
}

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

/** A new notification: owned by a running delivery (`received`), or handed to the dispatcher (`queued`). */
export interface NewNotification {
  event: PlatformEvent;
  transport: Transport;
  payloadDigest: string;
  status: "received" | "queued";
  claimToken?: string;
  claimExpiresAt?: Date;
  nextAttemptAt?: Date;
}

/** The end of a claimed delivery: the Svix calls made (one attempt each) and the status they lead to. */
export interface Completion {
  attempts: AttemptRecord[];
  status: Exclude<NotificationStatus, "received">;
  /** True when Svix was called and failed retryably: counts towards the backoff. */
  countsAsFailure: boolean;
  /** Why it is queued, failed or rejected (the last error). */
  errorCode?: string;
  error?: string;
  svixAppUid?: string;
  svixMessageId?: string;
  /** For `queued`: when the dispatcher may try again. */
  nextAttemptAt?: Date;
}

export interface Claim {
  token: string;
  expiresAt: Date;
}

export interface NotificationFilter {
  status?: NotificationStatus;
  project?: string;
  type?: string;
  /** Arrived at or after. */
  since?: Date;
  /** Arrived before. */
  until?: Date;
  /** Continue after this notification (newest-first order: older than it). */
  after?: { createdAt: Date; eventId: string };
  /** 1..1000 */
  limit: number;
}

export interface ProjectStatusCount {
  project: string;
  status: NotificationStatus;
  count: number;
}

/** The ledger the core needs (implemented by src/db/notificationStore.ts). */
export interface NotificationLedger {
  /**
   * Records a new notification. Null when it was inserted (the caller owns it); the existing
   * notification's summary when its event id was known already (nothing is written).
   */
  insert(entry: NewNotification): Promise<NotificationSummary | null>;
  summary(eventId: string): Promise<NotificationSummary | null>;
  get(eventId: string): Promise<NotificationRecord | null>;
  /**
   * Records the attempts and the outcome, if claimToken still owns the notification. A delivery
   * is recorded even after a takeover (Svix's answer is the truth) unless the row says delivered.
   */
  complete(eventId: string, claimToken: string, completion: Completion): Promise<void>;
  /**
   * The dispatcher's claim: up to `limit` notifications, oldest first, that are queued and due
   * (nextAttemptAt passed, or last tried before `recoveredAt`: Svix came back since), or received
   * with an expired claim. Each is claimed by a conditional update, so one instance gets it.
   */
  claimDue(now: Date, limit: number, claim: Claim, recoveredAt?: Date): Promise<NotificationRecord[]>;
  /** Gives back claimed notifications not sent after all (Svix asked to wait), without an attempt. */
  release(eventIds: string[], claimToken: string, nextAttemptAt: Date): Promise<void>;
  /** Operator replay: claims a queued, failed or rejected notification, or one whose claim expired. */
  claimForReplay(eventId: string, claim: Claim, now: Date): Promise<boolean>;
  attemptsOf(eventId: string): Promise<AttemptView[]>;
  /**
   * Newest first (arrival time, then event id, both descending: a stable order for cursors),
   * without payloads (a page of events near 1 MiB each would not fit in memory).
   */
  list(filter: NotificationFilter): Promise<NotificationSummary[]>;
  /**
   * Erases one notification's payload now (an erasure request). One still queued can then never
   * be delivered: it becomes failed, saying why. Refused while a delivery holds it.
   */
  erasePayload(eventId: string, now: Date): Promise<"erased" | "in_flight" | "not_found">;
  /**
   * How many notifications arrived since `since`, per project and status (the dashboard): for
   * `project` only, or for the `limit` (50) projects with the most of them.
   */
  countsByProject(since: Date, options?: { project?: string; limit?: number }): Promise<ProjectStatusCount[]>;
  ping(): Promise<void>;
}

/** Personal-data retention across both stores. */
export interface RetentionLedger {
  /**
   * Clears the payloads of settled notifications and the bodies of quarantined messages that
   * arrived before `before`, at most batchSize of each, keeping the audit rows. Null when
   * another instance is purging.
   */
  purge(before: Date, batchSize: number): Promise<{ notifications: number; quarantined: number } | null>;
}

/** Why a Pub/Sub message was quarantined: the code of the error that stopped it. */
export type QuarantineReason =
  | "invalid_json"
  | "invalid_envelope"
  | "invalid_event"
  | "event_id_conflict"
  | "payload_too_large";

export interface QuarantineEntry {
  reason: QuarantineReason;
  message: string;
  details: ErrorDetail[];
  transport: Transport;
  eventId?: string;
  /** The body as received (the store keeps at most 64 KiB of it). */
  body: Buffer;
}

export interface QuarantinedMessage extends Omit<QuarantineEntry, "body"> {
  id: string;
  /** Null once purged. */
  body: Buffer | null;
  bodyBytes: number;
  receivedAt: Date;
}

export interface QuarantineLedger {
  /** Records the message; a redelivery of one already quarantined (same subscription and message id) is recorded once. */
  add(entry: QuarantineEntry): Promise<{ id: string; duplicate: boolean }>;
  list(filter: { limit: number }): Promise<QuarantinedMessage[]>;
  /** How many messages were quarantined since `since` (the dashboard). */
  countSince(since: Date): Promise<number>;
}

/** What Svix reported about delivery to a customer's endpoints (an operational webhook). */
export interface DeliveryEvent {
  svixId: string;
  type: string;
  eventId: string | null;
  appUid: string | null;
  project: string | null;
  msgId: string | null;
  endpointId: string | null;
  responseStatus: number | null;
  occurredAt: Date;
}

export interface DeliveryEventView extends DeliveryEvent {
  receivedAt: Date;
}

export interface DeliveryEventLedger {
  /** Stores it once per svixId; false when it was stored before (Svix redelivered it). */
  add(event: DeliveryEvent): Promise<boolean>;
  forNotification(eventId: string): Promise<DeliveryEventView[]>;
  /** Newest first, optionally for one project. */
  recent(filter: { project?: string; limit: number }): Promise<DeliveryEventView[]>;
  /** The notification a Svix message belongs to: by Svix's eventId (our event id), else by message id. */
  notificationOf(msgEventId: string | null, msgId: string | null): Promise<{ eventId: string; project: string } | null>;
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

/** Svix beyond message delivery: the customers' app portal and the event-type catalog (src/svix). */
export interface SvixAdmin {
  appPortalAccess(input: AppPortalRequest, options?: CallOptions): Promise<{ url: string; token: string }>;
  ensureEventType(input: { name: string; description: string }, options?: CallOptions): Promise<void>;
}

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
