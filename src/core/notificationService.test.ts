import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { createMetrics } from "../observability/metrics.ts";
import { NotificationService } from "./notificationService.ts";
import type { NotificationLedger } from "./ports/ledger.ts";
import type { SvixGateway } from "./ports/svix.ts";

// The retry schedule on a fixed clock: the delay is exactly what the service computed.
const NOW = Date.parse("2026-11-30T12:00:00Z");

function service(waitMs = 0) {
  const svix = { waitMs: () => waitMs, probing: () => false, recoveredAt: () => 0 } as unknown as SvixGateway;
  return new NotificationService({
    ledger: {} as NotificationLedger,
    svix,
    logger: pino({ level: "silent" }),
    metrics: createMetrics(),
    clock: { now: () => new Date(NOW) },
    requestBudgetMs: 7000,
    claimTtlMs: 30_000,
    inFlightWaitMs: 1000,
    retryBaseDelayMs: 1000,
    retryMaxDelayMs: 600_000,
    retryHorizonMs: 72 * 3_600_000,
  });
}

const delayOf = (s: NotificationService, failures: number, retryAfterSeconds?: number) =>
  s.nextAttemptAt(failures, retryAfterSeconds).getTime() - NOW;

describe("the dispatcher's retry schedule", () => {
  it("doubles per failed delivery, jittered into [half, full] of base × 2^(n−1)", () => {
    const s = service();
    for (const [failures, full] of [
      [1, 1000],
      [2, 2000],
      [3, 4000],
      [6, 32_000],
    ] as const) {
      for (let i = 0; i < 20; i += 1) {
        const delay = delayOf(s, failures);
        expect(delay).toBeGreaterThanOrEqual(full / 2);
        expect(delay).toBeLessThanOrEqual(full);
      }
    }
  });

  it("never waits longer than RETRY_MAX_DELAY_MS, however many failures", () => {
    const s = service();
    for (const failures of [11, 20, 40, 1000]) {
      const delay = delayOf(s, failures);
      expect(delay).toBeGreaterThanOrEqual(300_000);
      expect(delay).toBeLessThanOrEqual(600_000);
    }
  });

  it("never retries inside Svix's Retry-After, nor while this instance must wait", () => {
    expect(delayOf(service(), 1, 30)).toBe(30_000);
    expect(delayOf(service(), 0, 2.5)).toBe(2500);
    expect(delayOf(service(45_000), 1)).toBe(45_000);
  });

  it("retries at once what was shed without a call and has no Retry-After", () => {
    expect(delayOf(service(), 0)).toBe(0);
  });
});
