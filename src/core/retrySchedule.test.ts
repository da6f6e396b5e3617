import { describe, expect, it } from "vitest";
import { retryDelayMs } from "./retrySchedule.ts";

// The dispatcher's retry schedule, with the jitter's random number given: exact delays.
const POLICY = { baseDelayMs: 1000, maxDelayMs: 600_000 };
const delay = (
  failures: number,
  options: { retryAfterSeconds?: number; instanceWaitMs?: number; random?: number } = {},
) =>
  retryDelayMs(
    { failures, retryAfterSeconds: options.retryAfterSeconds, instanceWaitMs: options.instanceWaitMs ?? 0 },
    POLICY,
    () => options.random ?? 0.5,
  );

describe("the dispatcher's retry schedule", () => {
  it("doubles per failed delivery, jittered into [half, full] of base × 2^(n−1)", () => {
    for (const [failures, full] of [
      [1, 1000],
      [2, 2000],
      [3, 4000],
      [6, 32_000],
    ] as const) {
      expect(delay(failures, { random: 0 })).toBe(full / 2);
      expect(delay(failures, { random: 0.5 })).toBe((full * 3) / 4);
      expect(delay(failures, { random: 0.999_999 })).toBeCloseTo(full, -1);
    }
  });

  it("jitters with Math.random when no source is given, inside [half, full]", () => {
    for (let i = 0; i < 50; i += 1) {
      const d = retryDelayMs({ failures: 3, instanceWaitMs: 0 }, POLICY);
      expect(d).toBeGreaterThanOrEqual(2000);
      expect(d).toBeLessThanOrEqual(4000);
    }
  });

  it("never waits longer than RETRY_MAX_DELAY_MS, however many failures", () => {
    for (const failures of [11, 20, 31, 40, 1000]) {
      expect(delay(failures, { random: 0 })).toBe(300_000);
      expect(delay(failures, { random: 0.999_999 })).toBeLessThanOrEqual(600_000);
    }
  });

  it("never retries inside Svix's Retry-After, nor while this instance must wait", () => {
    expect(delay(1, { retryAfterSeconds: 30 })).toBe(30_000);
    expect(delay(0, { retryAfterSeconds: 2.5 })).toBe(2500);
    expect(delay(1, { instanceWaitMs: 45_000 })).toBe(45_000);
    expect(delay(6, { retryAfterSeconds: 1, instanceWaitMs: 500 })).toBe(24_000);
  });

  it("retries at once what was shed without a call and has no Retry-After", () => {
    expect(delay(0)).toBe(0);
    expect(delay(-1)).toBe(0);
  });
});
