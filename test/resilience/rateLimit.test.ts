import { afterEach, describe, expect, it } from "vitest";
import { makeEvent } from "../helpers/events.ts";
import { inParallel, untilAcked } from "../helpers/redeliver.ts";
import { expectEachBetween } from "../helpers/ranges.ts";
import { startHarness, type Harness } from "../helpers/relayHarness.ts";

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** Every Svix call the relay made, from its own ledger: start and end times, status. */
async function recordedCalls(harness: Harness) {
  const rows = await harness.container.db.prisma.deliveryAttempt.findMany({ orderBy: { startedAt: "asc" } });
  return rows.map((r) => ({ start: r.startedAt.getTime(), end: r.startedAt.getTime() + r.durationMs, status: r.httpStatus }));
}

describe("Svix rate limits", () => {
  it("sends nothing to Svix inside a Retry-After window and answers 429 with the time left", async () => {
    h = await startHarness();
    h.emulator.faults.add({ kind: "status", status: 429, retryAfter: "3", operation: "message.create", times: 1 });
    const first = await h.http.post("/notifications").send(makeEvent()).expect(429);
    const windowEnds = Date.now() + 3000;
    expect(first.headers["retry-after"]).toBe("3");
    const callsAfter429 = h.emulator.calls.length;
    for (let i = 0; i < 5; i += 1) {
      const res = await h.http.post("/notifications").send(makeEvent()).expect(429);
      expect(Number(res.headers["retry-after"])).toBeGreaterThanOrEqual(1);
      expect(Number(res.headers["retry-after"])).toBeLessThanOrEqual(3);
      expect(res.body.error.code).toBe("svix_rate_limited");
    }
    expect(h.emulator.calls.length).toBe(callsAfter429);
    await new Promise((r) => setTimeout(r, Math.max(0, windowEnds - Date.now()) + 50));
    await h.http.post("/notifications").send(makeEvent()).expect(202);
    const warnings = h.logs.filter((l) => l.message === "Svix rate limit: pausing Svix calls");
    expect(warnings).toHaveLength(1);
  });

  it("backs off exponentially, with jitter, when Svix throttles without Retry-After", async () => {
    h = await startHarness();
    h.emulator.faults.add({ kind: "status", status: 429, operation: "message.create", times: 3 });
    const waits: number[] = [];
    for (let i = 0; i < 3; i += 1) {
      await h.http.post("/notifications").send(makeEvent()).expect(429);
      const paused = h.container.svix.pausedForSeconds();
      waits.push(paused);
      await new Promise((r) => setTimeout(r, paused * 1000 + 20));
    }
    // Jittered into [half, full] of 1 s, 2 s, 4 s; read a moment after the 429, so a little lower.
    expectEachBetween(waits, [[0.25, 1], [0.75, 2], [1.75, 4]]);
    await h.http.post("/notifications").send(makeEvent()).expect(202);
  });

  it("under a 10 requests/s limit with Retry-After: 1, delivers 40 events once each and never calls inside a window", async () => {
    h = await startHarness({ CIRCUIT_FAILURE_THRESHOLD: "1000" });
    const harness = h;
    harness.emulator.faults.setRateLimit({ perSecond: 10, retryAfterSeconds: 1 });
    const events = Array.from({ length: 40 }, () => makeEvent({ project: `p${Math.floor(Math.random() * 3)}` }));
    await inParallel(events, 8, async (event) => {
      await untilAcked(() => harness.http.post("/notifications").send(event));
    });
    const messages = harness.emulator.state.allMessages();
    expect(messages).toHaveLength(40);
    expect(new Set(messages.map((m) => m.eventId)).size).toBe(40);
    const calls = await recordedCalls(harness);
    // Every call the emulator saw is in the ledger: the ledger's timeline is complete.
    expect(calls.length).toBe(harness.emulator.calls.length);
    const throttled = calls.filter((c) => c.status === 429);
    expect(throttled.length).toBeGreaterThan(0);
    for (const t of throttled) {
      const inside = calls.filter((c) => c.start > t.end && c.start < t.end + 1000);
      expect(inside).toEqual([]);
    }
  });
});
