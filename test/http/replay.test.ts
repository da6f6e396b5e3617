import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { eventDigest } from "../../src/core/eventDigest.ts";
import { makeEvent } from "../helpers/events.ts";
import { startHarness, type Harness } from "../helpers/relayHarness.ts";
import { insertClaimed } from "../helpers/claimedRow.ts";

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ SVIX_MAX_RETRIES: "0", CIRCUIT_FAILURE_THRESHOLD: "1000" });
});
afterAll(() => h.close());
beforeEach(() => h.emulator.reset());

describe("POST /notifications/:eventId/replay", () => {
  it("delivers a rejected notification once what Svix refused is fixed, recording a replay attempt", async () => {
    h.emulator.faults.add({ kind: "status", status: 400, operation: "message.create", times: 1 });
    const event = makeEvent();
    await h.http.post("/notifications").send(event).expect(422);
    await h.http.post("/notifications").send(event).expect(422);
    const res = await h.http.post(`/notifications/${event.id}/replay`).type("json").expect(200);
    expect(res.body.data).toMatchObject({ eventId: event.id, status: "delivered", duplicate: false });
    const stored = (await h.http.get(`/notifications/${event.id}`).expect(200)).body.data;
    expect(stored.status).toBe("delivered");
    expect(stored.attempts.map((a: { trigger: string; outcome: string }) => `${a.trigger}:${a.outcome}`)).toEqual([
      "ingress:rejected",
      "replay:delivered",
    ]);
    await h.http.post("/notifications").send(event).expect(200);
    expect(h.emulator.state.allMessages()).toHaveLength(1);
  });

  it("refuses a delivered notification (409) and an unknown one (404)", async () => {
    const event = makeEvent();
    await h.http.post("/notifications").send(event).expect(200);
    expect((await h.http.post(`/notifications/${event.id}/replay`).type("json").expect(409)).body.error.code).toBe(
      "already_delivered",
    );
    expect((await h.http.post("/notifications/evt_nothing/replay").type("json").expect(404)).body.error.code).toBe(
      "not_found",
    );
    expect(h.emulator.state.allMessages()).toHaveLength(1);
  });

  it("refuses (400 invalid_event) a notification whose stored payload is no event, leaving it as it was, without a Svix call", async () => {
    // A row written by hand or by a bug: the dispatcher marks such a row failed, saying replay is refused.
    const eventId = `evt_not_an_event_${Date.now()}`;
    await h.container.db.prisma.$executeRawUnsafe(
      `INSERT INTO notifications (event_id, project, type, status, payload, transport, created_at, updated_at)
       VALUES ($1, 'acme', 'user.created', 'failed', '{"note":"no id, project or type"}', 'body', now(), now())`,
      eventId,
    );
    const res = await h.http.post(`/notifications/${eventId}/replay`).type("json").expect(400);
    expect(res.body.error).toMatchObject({ code: "invalid_event", message: expect.stringMatching(/not an event/) });
    expect((await h.http.get(`/notifications/${eventId}`).expect(200)).body.data).toMatchObject({
      status: "failed",
      attempts: [],
    });
    expect(h.emulator.calls).toHaveLength(0);
  });

  it("delivers a queued notification now, whatever its backoff", async () => {
    h.emulator.faults.add({ kind: "status", status: 503, operation: "message.create", times: 1 });
    const event = makeEvent();
    await h.http.post("/notifications").send(event).expect(202);
    await h.container.db.prisma.notification.update({
      where: { eventId: event.id },
      data: { nextAttemptAt: new Date(Date.now() + 3_600_000) },
    });
    expect((await h.http.post(`/notifications/${event.id}/replay`).type("json").expect(200)).body.data.status).toBe(
      "delivered",
    );
    expect(h.emulator.state.allMessages()).toHaveLength(1);
  });

  it("answers 422 delivery_failed when Svix still fails on a notification past the retry horizon", async () => {
    const event = makeEvent();
    await h.container.store.insert({
      event,
      transport: { kind: "body" },
      payloadDigest: eventDigest(event),
      status: "queued",
      nextAttemptAt: new Date(Date.now() + 3_600_000),
    });
    await h.container.db.prisma.notification.update({
      where: { eventId: event.id },
      data: { createdAt: new Date(Date.now() - 100 * 3_600_000) },
    });
    h.emulator.faults.add({ kind: "status", status: 503, operation: "message.create", times: 1 });
    const res = await h.http.post(`/notifications/${event.id}/replay`).type("json").expect(422);
    expect(res.body.data).toMatchObject({
      eventId: event.id,
      status: "failed",
      lastError: { code: "svix_unavailable" },
    });
    expect(res.body.error).toEqual({
      code: "delivery_failed",
      message: res.body.data.lastError.message,
      details: [],
      requestId: res.headers["x-request-id"],
    });
  });

  it("answers 503 + Retry-After, not 409, for a notification being delivered right now: it is not done yet", async () => {
    const event = await insertClaimed(h.container.store, {
      claimToken: "live",
      claimExpiresAt: new Date(Date.now() + 60_000),
    });
    const res = await h.http.post(`/notifications/${event.id}/replay`).type("json").expect(503);
    expect(res.body.error.code).toBe("event_in_flight");
    expect(Number(res.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    expect(h.emulator.calls).toHaveLength(0);
  });
});

describe("an operator's replay while the circuit is open", () => {
  let c: Harness;
  beforeAll(async () => {
    c = await startHarness({ SVIX_MAX_RETRIES: "0", CIRCUIT_FAILURE_THRESHOLD: "1", CIRCUIT_COOLDOWN_MS: "600000" });
  });
  afterAll(() => c.close());

  it("goes through as the circuit's probe, and closes it when Svix answers", async () => {
    c.emulator.faults.add({ kind: "status", status: 503, operation: "message.create", times: 1 });
    const event = makeEvent();
    await c.http.post("/notifications").send(event).expect(202);
    expect(c.container.svix.waitMs()).toBeGreaterThan(500_000);
    // Ordinary traffic is queued without a call while the circuit is open …
    const other = await c.http.post("/notifications").send(makeEvent()).expect(202);
    expect(other.body.data.status).toBe("queued");
    expect(c.emulator.calls).toHaveLength(1);
    // … but the operator's replay is the probe, ten minutes early.
    expect((await c.http.post(`/notifications/${event.id}/replay`).type("json").expect(200)).body.data.status).toBe(
      "delivered",
    );
    expect(c.container.svix.waitMs()).toBe(0);
    expect(c.logs.filter((l) => l.message === "Svix answers again: circuit closed")).toHaveLength(1);
  });
});
