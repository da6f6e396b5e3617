// The notification ledger the core needs: implemented by src/db/notificationStore.ts.
import type { PlatformEvent } from "../event.ts";
import type { Transport } from "../transport.ts";

/**
 * received: claimed, a delivery is running (or its owner died and the claim will expire);
 * queued: the ledger owns it and the dispatcher will deliver it; delivered: Svix holds it;
 * rejected: Svix refused it for good; failed: the dispatcher gave up after the retry horizon.
 */
export type NotificationStatus = "received" | "queued" | "delivered" | "rejected" | "failed";
/** The statuses an operator may replay (a `received` one only once its claim has expired). */
export const REPLAYABLE_STATUSES = ["failed", "rejected", "queued"] as const satisfies readonly NotificationStatus[];
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
  /** The W3C traceparent it arrived with; null when tracing was off. */
  traceContext: string | null;
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
  /** The W3C traceparent of the span it arrived in (null or absent when tracing is off). */
  traceContext?: string | null;
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

/** What waits for the dispatcher, across every instance (the queue's metrics). */
export interface QueueDepth {
  queued: number;
  /** Received, with a claim that has expired (or none): a delivery died; the dispatcher takes it over. */
  stuck: number;
  /** Arrival of the oldest queued notification; null when none is. */
  oldestQueuedAt: Date | null;
  /** Arrival of the oldest stuck notification; null when none is. */
  oldestStuckAt: Date | null;
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
  /** The dispatcher's queue at `now` (claims expire by it), in one statement on the status indexes. */
  queueDepth(now: Date): Promise<QueueDepth>;
  ping(): Promise<void>;
}
