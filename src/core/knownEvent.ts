import { AppError } from "../errors.ts";
import type { Metrics } from "../observability/metrics.ts";
import { canonicalJson } from "./canonicalJson.ts";
import type { PlatformEvent } from "./event.ts";
import type { NotificationLedger, NotificationSummary } from "./ports/ledger.ts";
import type { RelayOutcome } from "./relayOutcome.ts";

// An event the ledger knew already: the same body, or a conflict; and what became of it.

const POLL_MS = 50;

export async function assertSameBody(
  ledger: NotificationLedger,
  existing: NotificationSummary,
  event: PlatformEvent,
  digest: string,
): Promise<void> {
  let same: boolean;
  if (existing.payloadDigest) same = existing.payloadDigest === digest;
  else {
    // A row from before digests were kept: compare the bodies themselves.
    const stored = await ledger.get(existing.eventId);
    same = !stored?.payload || canonicalJson(stored.payload) === canonicalJson(event);
  }
  if (!same) throw new AppError("event_id_conflict", `Event ${event.id} was already received with a different body`);
}

/** The outcome of an event known before: waits up to waitMs for a delivery in flight to settle. */
export async function settledOutcome(
  ledger: NotificationLedger,
  metrics: Metrics,
  existing: NotificationSummary,
  waitMs: number,
): Promise<RelayOutcome> {
  // Elapsed time on the monotonic timer: this bounds a wait, it reads no date.
  const deadline = performance.now() + waitMs;
  let current: NotificationSummary | null = existing;
  while (current?.status === "received" && performance.now() < deadline) {
    await sleep(Math.min(POLL_MS, Math.max(1, deadline - performance.now())));
    current = await ledger.summary(existing.eventId);
  }
  // A row can vanish only through retention; what it said last is still the answer.
  const row = current ?? existing;
  if (row.status === "delivered") metrics.duplicates.inc();
  return {
    eventId: row.eventId,
    // Still in flight elsewhere: the ledger owns it, and the dispatcher finishes it if its owner dies.
    status: row.status === "received" ? "queued" : row.status,
    duplicate: true,
    svixAppUid: row.svixAppUid,
    svixMessageId: row.svixMessageId,
    nextAttemptAt: row.status === "received" ? row.claimExpiresAt : row.status === "queued" ? row.nextAttemptAt : null,
    lastError: row.lastErrorCode ? { code: row.lastErrorCode, message: row.lastError ?? "" } : null,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
