// The relay's own view of what it still owes Svix, through its API (GET /notifications?status=),
// so that one scenario's backlog does not spill into the next one's numbers.
import { sleep } from "./children.ts";

/** Statuses of notifications the relay has accepted but not yet settled. */
const UNSETTLED = ["received", "queued"];

/**
 * How many notifications are unsettled (capped at 500 per status); undefined when the relay's
 * API does not answer the question (a status it does not know, an error).
 */
export async function relayBacklog(relayUrl: string): Promise<number | undefined> {
  let total = 0;
  for (const status of UNSETTLED) {
    const res = await fetch(`${relayUrl}/notifications?status=${status}&limit=500`, {
      signal: AbortSignal.timeout(10_000),
    }).catch(() => undefined);
    if (!res?.ok) return undefined;
    total += ((await res.json()) as { data: unknown[] }).data.length;
  }
  return total;
}

export interface DrainResult {
  drained: boolean | undefined;
  seconds: number;
  left: number | undefined;
}

/** Waits until the relay owes nothing (or `maxMs`); undefined `drained` when it cannot tell. */
export async function waitForDrain(relayUrl: string, maxMs: number): Promise<DrainResult> {
  const started = Date.now();
  let left = await relayBacklog(relayUrl);
  while (left !== undefined && left > 0 && Date.now() - started < maxMs) {
    await sleep(500);
    left = await relayBacklog(relayUrl);
  }
  return { drained: left === undefined ? undefined : left === 0, seconds: (Date.now() - started) / 1000, left };
}
