import type { AppError } from "../errors.ts";
import type { PlatformEvent } from "./event.ts";
import type { AttemptRecord, AttemptTrigger, Completion, NotificationStatus } from "./ports/ledger.ts";
import type { SvixCall, SvixGateway } from "./ports/svix.ts";
import { type RetryPolicy, retryDelayMs } from "./retrySchedule.ts";
import type { Transport } from "./transport.ts";

/** What became of an event: the answer every entry point maps to its own protocol. */
export interface RelayOutcome {
  eventId: string;
  /**
   * delivered: Svix holds it; queued: the ledger holds it and the dispatcher will deliver it;
   * accepted: the ledger holds it and this instance is delivering it right now (an answer on commit).
   */
  status: Exclude<NotificationStatus, "received"> | "accepted";
  /** True when the event was known before this call (nothing new was sent or recorded). */
  duplicate: boolean;
  svixAppUid: string | null;
  svixMessageId: string | null;
  /** For queued: the earliest time of the next attempt. */
  nextAttemptAt: Date | null;
  /** For queued, rejected and failed: why. */
  lastError: { code: string; message: string } | null;
}

/** What the failure of a delivery leads to, and when the dispatcher may try again. */
export function completionAfterFailure(
  failure: AppError,
  attempts: AttemptRecord[],
  history: { failures: number; createdAt: Date; startedAt: number },
  context: {
    now: number;
    retryHorizonMs: number;
    retry: RetryPolicy;
    svix: Pick<SvixGateway, "recoveredAt" | "blockedMs" | "waitMs">;
  },
): Completion {
  const { now, svix } = context;
  const base = { attempts, errorCode: failure.code, error: failure.message };
  if (!failure.retryable) return { ...base, status: "rejected", countsAsFailure: false };
  if (now - history.createdAt.getTime() >= context.retryHorizonMs) {
    return {
      ...base,
      status: "failed",
      countsAsFailure: attempts.length > 0,
      error: `${failure.message} (gave up: older than the retry horizon)`,
    };
  }
  // Shed without a call (circuit open, paused, no room): not the event's fault, no backoff. An
  // unexpected failure is the delivery's own, call or not: it must reach the horizon some day.
  const countsAsFailure = attempts.length > 0 || failure.code === "internal";
  const failures = history.failures + (countsAsFailure ? 1 : 0);
  // Svix answered again while this call was failing (a call hung through the outage's end):
  // the backoff it would earn belongs to an outage that is over. The dispatcher takes it at once.
  const recoveredSince = svix.recoveredAt() > history.startedAt && svix.blockedMs() === 0;
  const delay = recoveredSince
    ? 0
    : retryDelayMs(
        { failures, retryAfterSeconds: failure.retryAfterSeconds, instanceWaitMs: svix.waitMs() },
        context.retry,
      );
  return { ...base, status: "queued", countsAsFailure, nextAttemptAt: new Date(now + delay) };
}

export function accepted(event: PlatformEvent): RelayOutcome {
  return {
    eventId: event.id,
    status: "accepted",
    duplicate: false,
    svixAppUid: null,
    svixMessageId: null,
    nextAttemptAt: null,
    lastError: null,
  };
}

export function toAttempt(call: SvixCall, trigger: AttemptTrigger): AttemptRecord {
  const { messageId, outcome, ...rest } = call;
  return { trigger, ...rest, outcome: outcome === "ok" ? "delivered" : outcome, svixMessageId: messageId };
}

/** push (wrapped or unwrapped), pull or body: how the customer's latency began. */
export function transportLabel(transport: Transport): "push" | "pull" | "body" {
  return transport.kind === "push_wrapped" || transport.kind === "push_unwrapped" ? "push" : transport.kind;
}

/**
 * From the publisher's side of Pub/Sub (its publishTime) or, for a direct post or a message
 * without one, the relay's arrival, to Svix's acceptance. Never negative: Pub/Sub's clock and
 * ours may disagree by a little.
 */
export function endToEndSeconds(transport: Transport, arrivedAt: Date, acceptedAtMs: number): number {
  const published = transport.kind === "body" ? Number.NaN : Date.parse(transport.publishTime ?? "");
  const startMs = Number.isNaN(published) ? arrivedAt.getTime() : published;
  return Math.max(0, acceptedAtMs - startMs) / 1000;
}
