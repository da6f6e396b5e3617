import { afterEach, describe, expect, it } from "vitest";
import { makeEvent } from "../helpers/events.ts";
import { inParallel } from "../helpers/redeliver.ts";
import { startHarness, type Harness } from "../helpers/relayHarness.ts";
import { waitFor } from "../helpers/waitFor.ts";

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** Every Svix call the relay made, from its own ledger: start and end times, status. */
async function recordedCalls(harness: Harness) {
  const rows = await harness.container.db.prisma.deliveryAttempt.findMany({ orderBy: { startedAt: "asc" } });
  return rows.map((r) => ({
    start: r.startedAt.getTime(),
    end: r.startedAt.getTime() + r.durationMs,
    status: r.httpStatus,
  }));
}

describe("Svix rate limits", () => {
  it("queues events without calling Svix inside a Retry-After window, and sends them once it has passed", async () => {
    h = await startHarness({ DISPATCH_ENABLED: "true", DISPATCH_INTERVAL_MS: "100" });
    h.emulator.faults.add({ kind: "status", status: 429, retryAfter: "3", operation: "message.create", times: 1 });
    const first = await h.http.post("/notifications").send(makeEvent()).expect(202);
    const throttledAt = h.emulator.calls.find((c) => c.status === 429)!.at;
    expect(first.body.data).toMatchObject({ status: "queued", lastError: { code: "svix_rate_limited" } });
    expect(Date.parse(first.body.data.nextAttemptAt)).toBeGreaterThanOrEqual(throttledAt + 3000);
    for (let i = 0; i < 5; i += 1) {
      const res = await h.http.post("/notifications").send(makeEvent()).expect(202);
      expect(res.body.data.status).toBe("queued");
      expect(Date.parse(res.body.data.nextAttemptAt)).toBeGreaterThanOrEqual(throttledAt + 3000 - 50);
    }
    expect(h.emulator.calls).toHaveLength(1);
    const harness = h;
    await waitFor(
      async () => (await harness.container.db.prisma.notification.count({ where: { status: "delivered" } })) === 6,
      15_000,
    );
    // Svix's own clock: nothing arrived before the full Retry-After had passed.
    const after = h.emulator.calls.filter((c) => c.status !== 429);
    expect(after).toHaveLength(6);
    expect(Math.min(...after.map((c) => c.at))).toBeGreaterThanOrEqual(throttledAt + 3000);
    expect(h.logs.filter((l) => l.message === "Svix rate limit: pausing Svix calls")).toHaveLength(1);
  });

  it("under a 10 requests/s limit with Retry-After: 1, delivers 40 events once each and never starts a call inside a window", async () => {
    h = await startHarness({
      CIRCUIT_FAILURE_THRESHOLD: "1000",
      DISPATCH_ENABLED: "true",
      DISPATCH_INTERVAL_MS: "100",
    });
    const harness = h;
    harness.emulator.faults.setRateLimit({ perSecond: 10, retryAfterSeconds: 1 });
    const events = Array.from({ length: 40 }, () => makeEvent({ project: `p${Math.floor(Math.random() * 3)}` }));
    await inParallel(events, 8, async (event) => {
      const res = await harness.http.post("/notifications").send(event);
      expect([200, 202]).toContain(res.status);
    });
    await waitFor(
      async () => (await harness.container.db.prisma.notification.count({ where: { status: "delivered" } })) === 40,
      30_000,
    );
    const messages = harness.emulator.state.allMessages();
    expect(messages).toHaveLength(40);
    expect(new Set(messages.map((m) => m.eventId)).size).toBe(40);
    const calls = await recordedCalls(harness);
    // Every call the emulator saw is in the ledger: the ledger's timeline is complete.
    expect(calls.length).toBe(harness.emulator.calls.length);
    const throttled = calls.filter((c) => c.status === 429);
    for (const t of throttled) {
      expect(calls.filter((c) => c.start > t.end && c.start < t.end + 1000)).toEqual([]);
    }
    // The first 429s teach the relay Svix's rate; paced under it, no call draws one after that.
    const learnedBy = throttled[0]!.end + 500;
    expect(throttled.filter((t) => t.start > learnedBy)).toEqual([]);
    expect(harness.logs.filter((l) => l.message === "Svix rate limit: pausing Svix calls")).toHaveLength(1);
  });
});
