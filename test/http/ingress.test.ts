import { createHash } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { makeEvent, unwrappedHeaders, wrapped } from "../helpers/events.ts";
import { startHarness, type Harness } from "../helpers/relayHarness.ts";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.close());
beforeEach(() => h.emulator.reset());

const messages = () => h.emulator.state.allMessages();

describe("POST /notifications — happy paths", () => {
  it("relays an event posted as the body to one Svix message in the project's application", async () => {
    const event = makeEvent({ project: "acme-mobile", type: "subscription.activated" });
    const res = await h.http.post("/notifications").send(event);
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({
      eventId: event.id,
      status: "delivered",
      duplicate: false,
      svixAppUid: "acme-mobile",
    });
    expect(res.body.data.svixMessageId).toMatch(/^msg_[A-Za-z0-9]{27}$/);
    const [message, ...rest] = messages();
    expect(rest).toHaveLength(0);
    expect(message).toMatchObject({
      eventId: event.id,
      eventType: "subscription.activated",
      appUid: "acme-mobile",
      payload: event,
    });
    expect(h.emulator.state.findApp("acme-mobile")?.name).toBe("acme-mobile");
  });

  it("sends every message create with an idempotency key derived from the event, never the SDK's random one", async () => {
    const event = makeEvent();
    await h.http.post("/notifications").send(event).expect(200);
    const creates = h.emulator.calls.filter((c) => c.operation === "message.create");
    expect(creates).toHaveLength(1);
    const expected = createHash("sha256").update(`${event.project}\u0000${event.id}`).digest("hex").slice(0, 40);
    expect(creates[0]?.idempotencyKey).toBe(`gigs-relay-msg-${expected}`);
  });

  it("creates the project's application with the first message itself: one Svix call per new event", async () => {
    const event = makeEvent({ project: "brand-new-project" });
    await h.http.post("/notifications").send(event).expect(200);
    expect(h.emulator.calls.map((c) => c.operation)).toEqual(["message.create"]);
    expect(h.emulator.state.findApp("brand-new-project")).toMatchObject({
      uid: "brand-new-project",
      name: "brand-new-project",
    });
    const stored = (await h.http.get(`/notifications/${event.id}`).expect(200)).body.data;
    expect(stored.attemptCount).toBe(1);
    expect(stored.attempts).toHaveLength(1);
  });

  it("unwraps a Pub/Sub push envelope and records the Pub/Sub metadata", async () => {
    const event = makeEvent();
    const envelope = wrapped(event, { deliveryAttempt: 3 });
    await h.http.post("/notifications").send(envelope).expect(200);
    await h.settle();
    expect(messages().map((m) => m.payload)).toEqual([event]);
    const stored = await h.http.get(`/notifications/${event.id}`).expect(200);
    expect(stored.body.data.transport).toEqual({
      kind: "push_wrapped",
      pubsubMessageId: envelope.message.messageId,
      subscription: "projects/gigs-prod/subscriptions/relay-push",
      deliveryAttempt: 3,
      publishTime: "2026-11-27T10:00:01.000Z",
    });
  });

  it("accepts an unwrapped Pub/Sub push, whatever its content type", async () => {
    const event = makeEvent();
    const headers = unwrappedHeaders("4242");
    await h.http
      .post("/notifications")
      .set(headers)
      .set("content-type", "application/octet-stream")
      .send(JSON.stringify(event))
      .expect(200);
    await h.settle();
    const stored = await h.http.get(`/notifications/${event.id}`).expect(200);
    expect(stored.body.data.transport).toMatchObject({ kind: "push_unwrapped", pubsubMessageId: "4242" });
    expect(messages()).toHaveLength(1);
  });

  it("answers a repeated event 200 from the ledger, without calling Svix again", async () => {
    const event = makeEvent();
    const first = await h.http.post("/notifications").send(event).expect(200);
    const callsBefore = h.emulator.calls.length;
    const second = await h.http.post("/notifications").send(wrapped(event)).expect(200);
    const third = await h.http.post("/notifications").set(unwrappedHeaders()).send(event).expect(200);
    expect(second.body.data).toEqual({ ...first.body.data, duplicate: true });
    expect(third.body.data.duplicate).toBe(true);
    expect(h.emulator.calls.length).toBe(callsBefore);
    expect(messages()).toHaveLength(1);
  });

  it("makes one message and one ledger row from 30 concurrent copies of an event in all three forms", async () => {
    const event = makeEvent();
    const sends = Array.from({ length: 30 }, (_, i) => {
      const req = h.http.post("/notifications");
      if (i % 3 === 0) return req.send(event);
      if (i % 3 === 1) return req.send(wrapped(event));
      return req.set(unwrappedHeaders()).send(event);
    });
    const responses = await Promise.all(sends);
    // Pushes are acknowledged at once; a direct post waits for the delivery in flight to settle.
    expect(responses.map((r) => r.status)).toEqual(Array.from({ length: 30 }, () => 200));
    expect(responses.filter((r) => r.body.data.duplicate === false)).toHaveLength(1);
    expect(responses.filter((_, i) => i % 3 === 0).every((r) => r.body.data.status === "delivered")).toBe(true);
    expect(messages()).toHaveLength(1);
    const list = await h.http.get("/notifications").query({ project: event.project, limit: 500 }).expect(200);
    expect(list.body.data.filter((n: { eventId: string }) => n.eventId === event.id)).toHaveLength(1);
  });

  it("keeps the event's id, type, time, version and data unchanged in the webhook payload", async () => {
    const event = makeEvent({
      time: "2022-03-16T14:12:42.123+01:00",
      data: { nested: { list: [1, "two", null, 1.5e300], unicode: "Grüße ☎ 😀", nul: "a\u0000b", lone: "\ud800" } },
    });
    await h.http.post("/notifications").send(event).expect(200);
    expect(messages()[0]?.payload).toStrictEqual(event);
    // The ledger keeps it exactly too: the same event again is a duplicate, not a conflict.
    await h.http.post("/notifications").send(event).expect(200);
  });

  it("gives a project id Svix cannot take as a uid a stable digest uid, and still delivers", async () => {
    const event = makeEvent({ project: "Acme Mobile/EU ✓" });
    await h.http.post("/notifications").send(event).expect(200);
    await h.http
      .post("/notifications")
      .send(makeEvent({ project: "Acme Mobile/EU ✓" }))
      .expect(200);
    expect(messages().map((m) => m.appUid)).toEqual([
      "prj_be443779a43ead99d9743c916a1f9b7a7878901a",
      "prj_be443779a43ead99d9743c916a1f9b7a7878901a",
    ]);
    expect(h.emulator.state.findApp("prj_be443779a43ead99d9743c916a1f9b7a7878901a")?.name).toBe("Acme Mobile/EU ✓");
  });

  it("delivers an event whose id Svix cannot take as eventId, and Svix deduplicates on the same digest", async () => {
    const event = makeEvent({ id: "evt with spaces/and slashes" });
    await h.http.post("/notifications").send(event).expect(200);
    expect(messages().map((m) => m.eventId)).toEqual(["evt_acb6e7d5c1de352218545d869a09e4e47ffa4e71"]);
    await h.http.get(`/notifications/${encodeURIComponent(event.id)}`).expect(200);
    // The ledger loses the row (say, restored from an older backup): Svix itself still knows the
    // event by its digest and answers 409, which counts as delivered. Still one message.
    await h.container.db.prisma.notification.delete({ where: { eventId: event.id } });
    h.emulator.state.idempotency.clear();
    const again = await h.http.post("/notifications").send(event).expect(200);
    expect(again.body.data).toMatchObject({ status: "delivered", duplicate: true });
    expect(messages()).toHaveLength(1);
  });
});
