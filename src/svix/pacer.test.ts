import { describe, expect, it } from "vitest";
import { Pacer } from "./pacer.ts";

function clock() {
  let now = 1_000_000;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe("Pacer", () => {
  it("does not limit anything until Svix answers 429", () => {
    const c = clock();
    const pacer = new Pacer({ now: c.now });
    for (let i = 0; i < 1000; i += 1) expect(pacer.take()).toBe(true);
    expect(pacer.waitMs()).toBe(0);
    expect(pacer.ratePerSecond).toBeUndefined();
  });

  it("after a 429, paces to 90 % of what Svix accepted in the second before it", () => {
    const c = clock();
    const pacer = new Pacer({ now: c.now, backoffShare: 0.9 });
    for (let i = 0; i < 20; i += 1) {
      pacer.answeredCall();
      c.advance(40);
    }
    pacer.throttled();
    expect(pacer.ratePerSecond).toBeCloseTo(18, 5);
    // Over the next 10 s, at most 18 calls per second go (plus the small burst allowance).
    let taken = 0;
    for (let t = 0; t < 10_000; t += 1) {
      if (pacer.take()) taken += 1;
      c.advance(1);
    }
    expect(taken).toBeGreaterThanOrEqual(175);
    expect(taken).toBeLessThanOrEqual(185);
  });

  it("counts the rest of a burst Svix answered just after its 429 before settling the pace", () => {
    const c = clock();
    const pacer = new Pacer({ now: c.now, backoffShare: 0.9 });
    for (let i = 0; i < 10; i += 1) pacer.answeredCall();
    pacer.throttled();
    expect(pacer.ratePerSecond).toBe(9);
    // Ten more of the same burst come back right after the 429.
    c.advance(50);
    for (let i = 0; i < 10; i += 1) pacer.answeredCall();
    c.advance(500);
    pacer.waitMs();
    expect(pacer.ratePerSecond).toBe(18);
  });

  it("never drops below its minimum, and learns nothing from a 429 with nothing accepted before it", () => {
    const c = clock();
    const lone = new Pacer({ now: c.now });
    lone.throttled();
    c.advance(600);
    expect(lone.take()).toBe(true);
    expect(lone.ratePerSecond).toBeUndefined();
    const pacer = new Pacer({ now: c.now, minRatePerSecond: 2, backoffShare: 0.9 });
    pacer.answeredCall();
    pacer.throttled();
    c.advance(600);
    pacer.waitMs();
    expect(pacer.ratePerSecond).toBe(2);
    // A further 429 at that pace lowers it, but not below the minimum.
    pacer.throttled();
    c.advance(600);
    pacer.waitMs();
    expect(pacer.ratePerSecond).toBe(2);
  });

  it("raises the pace a little after each quiet period (additive increase)", () => {
    const c = clock();
    const pacer = new Pacer({ now: c.now, increaseEveryMs: 5000 });
    for (let i = 0; i < 20; i += 1) pacer.answeredCall();
    pacer.throttled();
    const first = pacer.ratePerSecond!;
    c.advance(5000);
    pacer.waitMs();
    expect(pacer.ratePerSecond!).toBeGreaterThan(first);
    expect(pacer.ratePerSecond!).toBeLessThan(first * 1.1);
  });

  it("books slots in order for callers that can wait, so take() cannot overtake them", () => {
    const c = clock();
    const pacer = new Pacer({ now: c.now, burstSeconds: 0.05, backoffShare: 0.9 });
    for (let i = 0; i < 11; i += 1) pacer.answeredCall();
    pacer.throttled(); // ≈ 10 per second: a slot every 100 ms
    c.advance(600);
    pacer.waitMs();
    const waits = [pacer.reserve(), pacer.reserve(), pacer.reserve()];
    expect(waits[0]).toBeLessThanOrEqual(5);
    expect(waits[1]).toBeGreaterThanOrEqual(90);
    expect(waits[1]).toBeLessThanOrEqual(110);
    expect(waits[2]).toBeGreaterThanOrEqual(190);
    expect(pacer.take()).toBe(false);
    expect(pacer.waitMs()).toBeGreaterThanOrEqual(290);
  });

  it("books no slot further away than the caller will wait: a slot given up would hold back every later call", () => {
    const c = clock();
    const pacer = new Pacer({ now: c.now, backoffShare: 1 });
    pacer.answeredCall();
    pacer.throttled(); // one call per second, no token saved
    expect(pacer.reserve(500)).toBeUndefined();
    expect(pacer.reserve(999)).toBeUndefined();
    expect(pacer.waitMs()).toBe(1000); // nothing was booked
    expect(pacer.reserve(1000)).toBe(1000);
    expect(pacer.reserve(1500)).toBeUndefined();
    expect(pacer.waitMs()).toBe(2000);
    c.advance(2000);
    expect(pacer.take()).toBe(true);
  });
});
