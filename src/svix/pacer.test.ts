import { describe, expect, it } from "vitest";
import { Pacer } from "./pacer.ts";

function clock() {
  let now = 1_000_000;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

/** A pacer that learned its pace from a 429 after `answered` calls in the second before, settled 600 ms later. */
function paced(answered: number, backoffShare: number) {
  const c = clock();
  const pacer = new Pacer({ clock: c, backoffShare });
  for (let i = 0; i < answered; i += 1) pacer.answeredCall();
  pacer.throttled();
  c.advance(600);
  pacer.waitMs();
  return { c, pacer };
}

describe("Pacer", () => {
  it("does not limit anything until Svix answers 429", () => {
    const c = clock();
    const pacer = new Pacer({ clock: c });
    for (let i = 0; i < 1000; i += 1) expect(pacer.take()).toBe(true);
    expect(pacer.waitMs()).toBe(0);
    expect(pacer.ratePerSecond).toBeUndefined();
  });

  it("after a 429, paces to 90 % of what Svix accepted in the second before it", () => {
    const c = clock();
    const pacer = new Pacer({ clock: c, backoffShare: 0.9 });
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
    const pacer = new Pacer({ clock: c, backoffShare: 0.9 });
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
    const lone = new Pacer({ clock: c });
    lone.throttled();
    c.advance(600);
    expect(lone.take()).toBe(true);
    expect(lone.ratePerSecond).toBeUndefined();
    const pacer = new Pacer({ clock: c, minRatePerSecond: 2, backoffShare: 0.9 });
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
    const pacer = new Pacer({ clock: c, increaseEveryMs: 5000 });
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
    const pacer = new Pacer({ clock: c, burstSeconds: 0.05, backoffShare: 0.9 });
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
    const pacer = new Pacer({ clock: c, backoffShare: 1 });
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

  it("with a saved burst, lets it go at once (waitMs 0 while a token is saved), then one call per slot", () => {
    const c = clock();
    const pacer = new Pacer({ clock: c, backoffShare: 1, burstSeconds: 1 });
    for (let i = 0; i < 10; i += 1) pacer.answeredCall();
    pacer.throttled(); // 10 per second, up to 10 tokens saved
    c.advance(5000);
    expect(pacer.waitMs()).toBe(0);
    for (let i = 0; i < 10; i += 1) expect(pacer.take()).toBe(true);
    expect(pacer.take()).toBe(false);
    expect(pacer.waitMs()).toBe(100);
  });

  it("keeps a bounded history of answered calls: up to 4096, then only the newest 2048", () => {
    const paceAfter = (answered: number) => {
      const pacer = new Pacer({ clock: clock(), backoffShare: 1 });
      for (let i = 0; i < answered; i += 1) pacer.answeredCall();
      pacer.throttled();
      return pacer.ratePerSecond;
    };
    expect(paceAfter(4096)).toBe(4096);
    expect(paceAfter(4097)).toBe(2048);
  });

  it("counts only the calls answered in the second before the 429 (one answered exactly a second before is out)", () => {
    const c = clock();
    const pacer = new Pacer({ clock: c, backoffShare: 1 });
    for (let i = 0; i < 5; i += 1) pacer.answeredCall();
    c.advance(1);
    for (let i = 0; i < 3; i += 1) pacer.answeredCall();
    c.advance(999);
    for (let i = 0; i < 2; i += 1) pacer.answeredCall();
    pacer.throttled();
    expect(pacer.ratePerSecond).toBe(5);
  });

  it("settles on the burst answered within 500 ms of its first 429: neither further 429s, nor pace checks, nor later answers change that", () => {
    const c = clock();
    const pacer = new Pacer({ clock: c, backoffShare: 1 });
    for (let i = 0; i < 10; i += 1) pacer.answeredCall();
    pacer.throttled();
    c.advance(20);
    pacer.waitMs(); // a caller checks the pace while the burst is still being answered
    c.advance(30);
    for (let i = 0; i < 5; i += 1) pacer.answeredCall();
    pacer.throttled(); // another call of the same burst refused
    // Calls answered after the 500 ms, before anything settled the pace, are not part of the burst.
    c.advance(550);
    for (let i = 0; i < 5; i += 1) pacer.answeredCall();
    pacer.waitMs();
    expect(pacer.ratePerSecond).toBe(15);
  });

  it("a 429 with nothing answered in the second before lowers the pace it came at by the share", () => {
    const { c, pacer } = paced(20, 0.5);
    expect(pacer.ratePerSecond).toBe(10);
    c.advance(2000);
    pacer.throttled();
    expect(pacer.ratePerSecond).toBe(5);
    c.advance(600);
    pacer.waitMs();
    expect(pacer.ratePerSecond).toBe(5);
  });

  it("a 429 never raises the pace: more accepted than the pace (a saved burst on top) still gives the share of the pace it came at", () => {
    const { c, pacer } = paced(20, 0.5);
    expect(pacer.ratePerSecond).toBe(10);
    c.advance(1000);
    for (let i = 0; i < 16; i += 1) pacer.answeredCall();
    pacer.throttled(); // 16 × 0.5 = 8 would be above 10 × 0.5
    expect(pacer.ratePerSecond).toBe(5);
  });

  it("raises the pace by 5 % per quiet period, and by at least half a call per second", () => {
    const paceAfterQuietPeriod = (answered: number) => {
      const c = clock();
      const pacer = new Pacer({ clock: c, backoffShare: 1, increaseEveryMs: 5000 });
      for (let i = 0; i < answered; i += 1) pacer.answeredCall();
      pacer.throttled();
      c.advance(5000);
      pacer.waitMs();
      return pacer.ratePerSecond;
    };
    expect(paceAfterQuietPeriod(20)).toBe(21);
    expect(paceAfterQuietPeriod(2)).toBe(2.5);
  });
});

describe("Pacer after a storm of 429s", () => {
  // Chaos seed 11: a burst of 429s (Retry-After 2 s) came right after 5xx and hung calls, while the
  // instances were sending little; each 429 with nothing accepted before it lowered the pace, down
  // to 1 call per second, and +5 % per 30 s left a backlog of 8,000 events draining at ~1/s.
  function stormed(c: ReturnType<typeof clock>) {
    const pacer = new Pacer({ clock: c, increaseEveryMs: 30_000 });
    for (let i = 0; i < 100; i += 1) {
      pacer.answeredCall(); // 100 calls accepted within one second
      c.advance(9);
    }
    pacer.throttled();
    for (let i = 0; i < 80; i += 1) {
      c.advance(2000); // paused by Retry-After, nothing accepted, then refused again
      pacer.waitMs();
      pacer.throttled();
    }
    c.advance(600);
    pacer.waitMs();
    return pacer;
  }

  it("drives the pace to its minimum", () => {
    expect(stormed(clock()).ratePerSecond).toBe(1);
  });

  it("comes back halfway to what Svix once accepted after each quiet period", () => {
    const c = clock();
    const pacer = stormed(c);
    c.advance(30_000);
    pacer.waitMs();
    expect(pacer.ratePerSecond).toBeCloseTo((1 + 93) / 2, 5);
    c.advance(30_000);
    pacer.waitMs();
    expect(pacer.ratePerSecond).toBeCloseTo((47 + 93) / 2, 5);
  });

  it("is not raised by the peak while it paces at or above it: then the additive increase only", () => {
    const c = clock();
    const pacer = new Pacer({ clock: c, backoffShare: 1, increaseEveryMs: 5000 });
    for (let i = 0; i < 10; i += 1) pacer.answeredCall();
    pacer.throttled();
    c.advance(5000);
    pacer.waitMs();
    expect(pacer.ratePerSecond).toBe(10.5);
  });
});
