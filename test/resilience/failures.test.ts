import { afterEach, describe, expect, it } from "vitest";
import { makeEvent } from "../helpers/events.ts";
import { startHarness, type Harness } from "../helpers/relayHarness.ts";

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function attemptsOf(harness: Harness, eventId: string) {
  return (await harness.http.get(`/notifications/${eventId}`).expect(200)).body.data.attempts as Array<{
    operation: string;
    outcome: string;
    httpStatus?: number;
  }>;
}

describe("Svix failures and slowness", () => {
  it("retries a 5xx burst inside the request and delivers once", async () => {
    h = await startHarness({ SVIX_MAX_RETRIES: "2" });
    h.emulator.faults.add({ kind: "status", status: 502, operation: "message.create", times: 2 });
    const event = makeEvent();
    await h.http.post("/notifications").send(event).expect(200);
    expect(h.emulator.state.allMessages()).toHaveLength(1);
    const attempts = await attemptsOf(h, event.id);
    expect(attempts.map((a) => [a.outcome, a.httpStatus])).toEqual([
      ["retryable", 502],
      ["retryable", 502],
      ["delivered", 202],
    ]);
  });

  it("gives up within the request budget when Svix never answers, and queues the event", async () => {
    h = await startHarness({
      SVIX_TIMEOUT_MS: "400",
      REQUEST_BUDGET_MS: "1500",
      SVIX_MAX_RETRIES: "5",
      CIRCUIT_FAILURE_THRESHOLD: "100",
    });
    h.emulator.faults.add({ kind: "hang", operation: "message.create" });
    const event = makeEvent();
    const res = await h.http.post("/notifications").send(event).expect(202);
    expect(res.body.data).toMatchObject({ status: "queued", lastError: { code: "svix_unavailable" } });
    // The calls themselves, as the relay timed them: retried until the budget ran out, never past it.
    const attempts = (
      await h.container.db.prisma.deliveryAttempt.findMany({
        where: { eventId: event.id },
        orderBy: { startedAt: "asc" },
      })
    ).map((a) => ({
      start: a.startedAt.getTime(),
      end: a.startedAt.getTime() + a.durationMs,
    }));
    expect(attempts.length).toBeGreaterThanOrEqual(2);
    const spent = attempts.at(-1)!.end - attempts[0]!.start;
    expect(spent).toBeGreaterThanOrEqual(700);
    expect(spent).toBeLessThanOrEqual(1500 + 50);
  });

  it("keeps exactly one message when Svix's answer is lost after it created the message (timeout, then retry)", async () => {
    h = await startHarness({ SVIX_TIMEOUT_MS: "300", REQUEST_BUDGET_MS: "3000", SVIX_MAX_RETRIES: "2" });
    h.emulator.faults.add({ kind: "hang", operation: "message.create", phase: "after", times: 1 });
    const event = makeEvent();
    const res = await h.http.post("/notifications").send(event).expect(200);
    const messages = h.emulator.state.allMessages();
    expect(messages).toHaveLength(1);
    // The retry got Svix's first answer back through the idempotency key.
    expect(res.body.data.svixMessageId).toBe(messages[0]?.id);
  });

  it("keeps exactly one message when the connection is reset after Svix created it", async () => {
    h = await startHarness({ SVIX_MAX_RETRIES: "2" });
    h.emulator.faults.add({ kind: "reset", operation: "message.create", phase: "after", times: 1 });
    const event = makeEvent();
    await h.http.post("/notifications").send(event).expect(200);
    expect(h.emulator.state.allMessages()).toHaveLength(1);
  });

  it("opens the circuit after repeated failures, logs it once, queues without calling Svix, and closes after a probe", async () => {
    h = await startHarness({ SVIX_MAX_RETRIES: "0", CIRCUIT_FAILURE_THRESHOLD: "3", CIRCUIT_COOLDOWN_MS: "1000" });
    h.emulator.faults.add({ kind: "status", status: 503, operation: "message.create" });
    for (let i = 0; i < 3; i += 1) {
      expect((await h.http.post("/notifications").send(makeEvent()).expect(202)).body.data.lastError.code).toBe(
        "svix_unavailable",
      );
    }
    const calls = h.emulator.calls.length;
    for (let i = 0; i < 5; i += 1) {
      const res = await h.http.post("/notifications").send(makeEvent()).expect(202);
      expect(res.body.data).toMatchObject({ status: "queued", lastError: null });
      expect(Date.parse(res.body.data.nextAttemptAt)).toBeGreaterThan(Date.now());
    }
    expect(h.emulator.calls.length).toBe(calls);
    expect(h.logs.filter((l) => l.message === "Svix keeps failing: circuit opened")).toHaveLength(1);
    h.emulator.faults.clear();
    await new Promise((r) => setTimeout(r, 1100));
    await h.http.post("/notifications").send(makeEvent()).expect(200);
    expect(h.logs.filter((l) => l.message === "Svix answers again: circuit closed")).toHaveLength(1);
  });

  it("reopens the circuit when the probe fails", async () => {
    h = await startHarness({ SVIX_MAX_RETRIES: "0", CIRCUIT_FAILURE_THRESHOLD: "2", CIRCUIT_COOLDOWN_MS: "500" });
    h.emulator.faults.add({ kind: "status", status: 500, operation: "message.create" });
    await h.http.post("/notifications").send(makeEvent()).expect(202);
    await h.http.post("/notifications").send(makeEvent()).expect(202);
    await new Promise((r) => setTimeout(r, 600));
    const calls = h.emulator.calls.length;
    expect((await h.http.post("/notifications").send(makeEvent()).expect(202)).body.data.lastError.code).toBe(
      "svix_unavailable",
    );
    expect(h.emulator.calls.length).toBe(calls + 1);
    expect(h.container.svix.waitMs()).toBeGreaterThan(0);
    await h.http.post("/notifications").send(makeEvent()).expect(202);
    expect(h.emulator.calls.length).toBe(calls + 1);
  });

  it("queues work past the in-flight bound at once instead of waiting for a free place", async () => {
    h = await startHarness({ SVIX_MAX_IN_FLIGHT: "2" });
    const harness = h;
    harness.emulator.faults.add({ kind: "latency", minMs: 2000, maxMs: 2000, operation: "message.create" });
    const started = Date.now();
    const results = await Promise.all(
      Array.from({ length: 6 }, async () => {
        const res = await harness.http.post("/notifications").send(makeEvent());
        return {
          status: res.status,
          ms: Date.now() - started,
          code: res.body.data.lastError?.code as string | undefined,
        };
      }),
    );
    const delivered = results.filter((r) => r.status === 200);
    const shed = results.filter((r) => r.status === 202);
    expect(delivered).toHaveLength(2);
    expect(shed).toHaveLength(4);
    // Queued at once, without a Svix call: every place for one was taken (seen before the insert,
    // or, when requests raced past that check together, when the call was about to start).
    expect(shed.every((r) => r.code === undefined || r.code === "overloaded")).toBe(true);
    expect(h.emulator.calls.filter((c) => c.operation === "message.create")).toHaveLength(2);
    // Shed at once: answered before the two admitted calls (2 s each) could have freed a place.
    expect(Math.max(...shed.map((r) => r.ms))).toBeLessThan(Math.min(...delivered.map((r) => r.ms)));
  });
});
