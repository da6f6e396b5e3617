import { describe, expect, it } from "vitest";
import { GuessThrottle } from "./guessThrottle.ts";

function throttle(options: { maxClients?: number } = {}) {
  let now = 1_000_000;
  const t = new GuessThrottle({ clock: { now: () => now }, maxFailures: 3, windowMs: 60_000, ...options });
  return { t, advance: (ms: number) => (now += ms) };
}

describe("GuessThrottle", () => {
  it("lets a client fail maxFailures times, then makes it wait until the oldest failure leaves the window", () => {
    const { t, advance } = throttle();
    t.failed("a");
    advance(10_000);
    t.failed("a");
    expect(t.waitMs("a")).toBe(0);
    advance(10_000);
    t.failed("a");
    // Failures at 0, 10 s and 20 s: free again when the first is 60 s old, 40 s from now.
    expect(t.waitMs("a")).toBe(40_000);
    advance(39_999);
    expect(t.waitMs("a")).toBe(1);
    advance(1);
    expect(t.waitMs("a")).toBe(0);
  });

  it("counts each client apart", () => {
    const { t } = throttle();
    for (let i = 0; i < 3; i += 1) t.failed("a");
    expect(t.waitMs("a")).toBeGreaterThan(0);
    expect(t.waitMs("b")).toBe(0);
  });

  it("forgets failures older than the window", () => {
    const { t, advance } = throttle();
    t.failed("a");
    t.failed("a");
    advance(60_000);
    t.failed("a");
    expect(t.waitMs("a")).toBe(0);
  });

  it("waits for the last maxFailures failures: newer ones move the end later", () => {
    const { t, advance } = throttle();
    for (let i = 0; i < 3; i += 1) t.failed("a");
    advance(30_000);
    t.failed("a");
    t.failed("a");
    // The last three: at 0, 30 s and 30 s — free when the one at 0 is 60 s old.
    expect(t.waitMs("a")).toBe(30_000);
    t.failed("a");
    expect(t.waitMs("a")).toBe(60_000);
  });

  it("remembers at most maxClients, forgetting the least recent", () => {
    const { t } = throttle({ maxClients: 2 });
    for (let i = 0; i < 3; i += 1) t.failed("a");
    for (let i = 0; i < 3; i += 1) t.failed("b");
    for (let i = 0; i < 3; i += 1) t.failed("c");
    expect(t.waitMs("a")).toBe(0);
    expect(t.waitMs("b")).toBeGreaterThan(0);
    expect(t.waitMs("c")).toBeGreaterThan(0);
  });
});
