import { describe, expect, it } from "vitest";
import { AppError } from "../errors.ts";
import { completionAfterFailure } from "./relayOutcome.ts";

const NOW = Date.parse("2026-12-06T10:00:00Z");
const call = {
  operation: "message.create",
  startedAt: new Date(NOW - 3000),
  durationMs: 3000,
  outcome: "retryable" as const,
  trigger: "ingress" as const,
};
const context = (svix: { recoveredAt: number; blockedMs?: number; waitMs?: number }) => ({
  now: NOW,
  retryHorizonMs: 72 * 3_600_000,
  retry: { baseDelayMs: 1000, maxDelayMs: 600_000 },
  svix: { recoveredAt: () => svix.recoveredAt, blockedMs: () => svix.blockedMs ?? 0, waitMs: () => svix.waitMs ?? 0 },
});
const timeout = new AppError("svix_unavailable", "Svix did not answer in time");
const history = { failures: 3, createdAt: new Date(NOW - 60_000), startedAt: NOW - 3000 };

describe("completionAfterFailure", () => {
  it("backs off a failed call as its failures say (base × 2^(n−1), jittered)", () => {
    const c = completionAfterFailure(timeout, [call], history, context({ recoveredAt: 0 }));
    expect(c).toMatchObject({ status: "queued", countsAsFailure: true, errorCode: "svix_unavailable" });
    expect(c.nextAttemptAt!.getTime() - NOW).toBeGreaterThanOrEqual(4000);
    expect(c.nextAttemptAt!.getTime() - NOW).toBeLessThanOrEqual(8000);
  });

  it("retries at once a call that failed while Svix came back (it hung through the outage's end)", () => {
    const recovered = context({ recoveredAt: NOW - 1000 });
    expect(completionAfterFailure(timeout, [call], history, recovered).nextAttemptAt).toEqual(new Date(NOW));
    // Svix came back before this call started: its failure is news, and backs off as usual.
    const before = completionAfterFailure(timeout, [call], history, context({ recoveredAt: NOW - 5000 }));
    expect(before.nextAttemptAt!.getTime()).toBeGreaterThan(NOW);
    // Svix came back, then asked to wait again (a Retry-After, an open circuit): that wait holds.
    const blocked = completionAfterFailure(
      timeout,
      [call],
      history,
      context({ recoveredAt: NOW - 1000, blockedMs: 2000, waitMs: 2000 }),
    );
    expect(blocked.nextAttemptAt!.getTime()).toBeGreaterThanOrEqual(NOW + 2000);
  });

  it("counts an unexpected failure as the delivery's own even without a Svix call; a shed one not", () => {
    const internal = new AppError("internal", "a bug");
    expect(completionAfterFailure(internal, [], history, context({ recoveredAt: 0 })).countsAsFailure).toBe(true);
    const shed = new AppError("overloaded", "no room");
    const c = completionAfterFailure(shed, [], history, context({ recoveredAt: 0 }));
    expect(c.countsAsFailure).toBe(false);
    // Shed, no Retry-After: the backoff of its 3 failures, not a 4th.
    expect(c.nextAttemptAt!.getTime() - NOW).toBeLessThanOrEqual(4000);
  });
});
