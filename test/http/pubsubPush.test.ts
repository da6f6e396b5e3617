import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { makeEvent, unwrappedHeaders, wrapped } from "../helpers/events.ts";
import { startHarness, type Harness } from "../helpers/relayHarness.ts";

// Store and forward, as Pub/Sub push sees it: 200 for everything the relay has recorded (in the
// ledger or the quarantine), so Pub/Sub neither redelivers nor slows the subscription down.
let h: Harness;
beforeAll(async () => {
  h = await startHarness({ SVIX_MAX_RETRIES: "0", CIRCUIT_FAILURE_THRESHOLD: "1000" });
});
afterAll(() => h.close());
beforeEach(async () => {
  h.emulator.reset();
  await h.container.db.prisma.quarantinedMessage.deleteMany();
});

const quarantine = async () =>
  (await h.http.get("/quarantine").expect(200)).body.data as Array<Record<string, unknown>>;

describe("Pub/Sub push — acknowledged once recorded", () => {
  it("answers 200 accepted on commit, before Svix is called; Svix failing queues it, Svix refusing rejects it", async () => {
    h.emulator.faults.add({ kind: "status", status: 503, operation: "message.create", times: 1 });
    const failingEvent = makeEvent();
    const failing = await h.http.post("/notifications").send(wrapped(failingEvent)).expect(200);
    expect(failing.body.data).toMatchObject({ status: "accepted", duplicate: false });
    const refusedEvent = makeEvent({ type: "not a type!" });
    const refused = await h.http.post("/notifications").set(unwrappedHeaders()).send(refusedEvent).expect(200);
    expect(refused.body.data).toMatchObject({ status: "accepted" });
    expect(refused.body.error).toBeUndefined();
    await h.settle();
    expect(await h.container.store.summary(failingEvent.id)).toMatchObject({
      status: "queued",
      lastErrorCode: "svix_unavailable",
    });
    expect(await h.container.store.summary(refusedEvent.id)).toMatchObject({
      status: "rejected",
      lastErrorCode: "svix_rejected",
    });
  });

  it("answers before Svix does: a push whose Svix call takes 1.5 s is answered at once, and delivered after", async () => {
    h.emulator.faults.add({ kind: "latency", minMs: 1500, maxMs: 1500, operation: "message.create", times: 1 });
    const event = makeEvent();
    const started = performance.now();
    const pushed = await h.http.post("/notifications").send(wrapped(event)).expect(200);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(pushed.body.data.status).toBe("accepted");
    expect((await h.container.store.summary(event.id))?.status).toBe("received");
    await h.settle();
    expect((await h.container.store.summary(event.id))?.status).toBe("delivered");
    expect(h.emulator.state.allMessages().filter((m) => m.eventId === event.id)).toHaveLength(1);
    // Delivered under the claim the push took, by the same process — not later by the dispatcher.
    expect((await h.container.store.attemptsOf(event.id)).map((a) => [a.trigger, a.outcome])).toEqual([
      ["ingress", "delivered"],
    ]);
  });

  it("answers a duplicate still in flight elsewhere at once, with 200: the ledger owns it", async () => {
    h.emulator.faults.add({ kind: "latency", minMs: 1500, maxMs: 1500, operation: "message.create", times: 1 });
    const event = makeEvent();
    const first = h.http
      .post("/notifications")
      .send(event)
      .then((r) => r);
    await new Promise((r) => setTimeout(r, 300));
    const started = Date.now();
    const pushed = await h.http.post("/notifications").send(wrapped(event)).expect(200);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(pushed.body.data).toMatchObject({ status: "queued", duplicate: true });
    expect((await first).body.data.status).toBe("delivered");
  });
});

describe("an internal caller asking for the answer on commit (Prefer: respond-async)", () => {
  it("gets 202 accepted before Svix answers, and the event is delivered after", async () => {
    h.emulator.faults.add({ kind: "latency", minMs: 1500, maxMs: 1500, operation: "message.create", times: 1 });
    const event = makeEvent();
    const started = performance.now();
    const res = await h.http.post("/notifications").set("prefer", "respond-async, wait=10").send(event).expect(202);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(res.headers["preference-applied"]).toBe("respond-async");
    expect(res.body.data).toMatchObject({ eventId: event.id, status: "accepted", duplicate: false });
    await h.settle();
    expect((await h.container.store.summary(event.id))?.status).toBe("delivered");
  });

  it("without the preference keeps the synchronous answer: 200 delivered", async () => {
    const res = await h.http.post("/notifications").set("prefer", "return=minimal").send(makeEvent()).expect(200);
    expect(res.body.data.status).toBe("delivered");
    expect(res.headers["preference-applied"]).toBeUndefined();
  });
});

describe("an internal caller's duplicate of an event in flight", () => {
  it("waits for the first delivery and answers its outcome", async () => {
    h.emulator.faults.add({ kind: "latency", minMs: 600, maxMs: 600, operation: "message.create", times: 1 });
    const event = makeEvent();
    const first = h.http
      .post("/notifications")
      .send(event)
      .then((r) => r);
    await new Promise((r) => setTimeout(r, 150));
    const second = await h.http.post("/notifications").send(event).expect(200);
    expect(second.body.data).toMatchObject({ status: "delivered", duplicate: true });
    expect((await first).body.data).toMatchObject({ status: "delivered", duplicate: false });
    expect(second.body.data.svixMessageId).toBe((await first).body.data.svixMessageId);
  });
});

describe("Pub/Sub push — quarantine for what can never be delivered", () => {
  it("quarantines an event failing the schema, acknowledges it, and records it once however often it is pushed", async () => {
    const poison = { ...makeEvent(), time: "yesterday", data: "x" };
    const envelope = wrapped(poison);
    const quarantinedMetric = async () =>
      (await h.container.metrics.quarantined.get()).values.find((v) => v.labels.reason === "invalid_event")?.value ?? 0;
    const countedBefore = await quarantinedMetric();
    for (let i = 0; i < 3; i += 1) {
      const res = await h.http.post("/notifications").send(envelope).expect(200);
      expect(res.body.data).toMatchObject({
        status: "quarantined",
        reason: "invalid_event",
        eventId: poison.id,
        duplicate: i > 0,
      });
    }
    const [entry, ...rest] = await quarantine();
    expect(rest).toHaveLength(0);
    expect(entry).toMatchObject({
      reason: "invalid_event",
      eventId: poison.id,
      transport: {
        kind: "push_wrapped",
        pubsubMessageId: envelope.message.messageId,
        subscription: envelope.subscription,
        publishTime: "2026-11-27T10:00:01.000Z",
      },
      bodyEncoding: "utf8",
      bodyTruncated: false,
    });
    expect(JSON.parse(entry!.body as string)).toEqual(envelope);
    expect((entry!.details as Array<{ path: string }>).map((d) => d.path).sort()).toEqual(["/data", "/time"]);
    expect(h.emulator.calls).toHaveLength(0);
    expect(await h.container.db.prisma.notification.count({ where: { eventId: poison.id } })).toBe(0);
    expect(await quarantinedMetric()).toBe(countedBefore + 1);
    expect((await h.http.get("/metrics").expect(200)).text).toMatch(
      /relay_quarantined_total\{reason="invalid_event"\} \d+/,
    );
    const warning = h.logs.find(
      (l) => l.message === "Pub/Sub message quarantined: it can never be delivered" && l.eventId === poison.id,
    );
    expect(warning).toMatchObject({ severity: "WARNING", pubsubMessageId: envelope.message.messageId });
  });

  it("quarantines an unwrapped push that is not JSON, keeping its bytes", async () => {
    const headers = unwrappedHeaders("7001");
    const bytes = Buffer.from([0x68, 0x69, 0xff, 0x00]);
    const res = await h.http
      .post("/notifications")
      .set(headers)
      .set("content-type", "application/x-www-form-urlencoded")
      .serialize((b: Buffer) => b as unknown as string)
      .send(bytes)
      .expect(200);
    expect(res.body.data).toMatchObject({ status: "quarantined", reason: "invalid_json", eventId: null });
    const [entry] = await quarantine();
    expect(entry).toMatchObject({
      reason: "invalid_json",
      bodyEncoding: "base64",
      bodyBytes: 4,
      transport: { kind: "push_unwrapped", pubsubMessageId: "7001" },
    });
    expect(Buffer.from(entry!.body as string, "base64")).toEqual(bytes);
  });

  it("quarantines a broken envelope, keeping the fields that could be read", async () => {
    const res = await h.http
      .post("/notifications")
      .send({ message: { data: "***", messageId: "8001" }, subscription: "projects/gigs/subscriptions/relay" })
      .expect(200);
    expect(res.body.data).toMatchObject({ status: "quarantined", reason: "invalid_envelope" });
    expect((await quarantine())[0]).toMatchObject({
      transport: { kind: "push_wrapped", pubsubMessageId: "8001", subscription: "projects/gigs/subscriptions/relay" },
    });
  });

  it("quarantines a NUL in the message id instead of answering 503 forever", async () => {
    const envelope = wrapped(makeEvent());
    envelope.message.messageId = "12\u000034";
    const res = await h.http.post("/notifications").send(envelope).expect(200);
    expect(res.body.data).toMatchObject({ status: "quarantined", reason: "invalid_envelope" });
  });

  it("quarantines an event id received before with a different body, keeping the first", async () => {
    const event = makeEvent();
    await h.http.post("/notifications").send(wrapped(event)).expect(200);
    const res = await h.http
      .post("/notifications")
      .send(wrapped({ ...event, data: { changed: true } }))
      .expect(200);
    expect(res.body.data).toMatchObject({ status: "quarantined", reason: "event_id_conflict", eventId: event.id });
    expect(h.emulator.state.allMessages().map((m) => m.payload)).toEqual([event]);
  });

  it("lists the quarantine newest first", async () => {
    for (const id of ["q1", "q2", "q3"])
      await h.http
        .post("/notifications")
        .send(wrapped({ id, object: "event" }))
        .expect(200);
    expect((await quarantine()).map((q) => q.eventId)).toEqual(["q3", "q2", "q1"]);
  });

  it("lists at most limit entries, 1 to 500, naming the bound when refused", async () => {
    for (const id of ["q1", "q2", "q3"])
      await h.http
        .post("/notifications")
        .send(wrapped({ id, object: "event" }))
        .expect(200);
    expect(
      (await h.http.get("/quarantine").query({ limit: 1 }).expect(200)).body.data.map(
        (q: { eventId: string }) => q.eventId,
      ),
    ).toEqual(["q3"]);
    expect((await h.http.get("/quarantine").query({ limit: 500 }).expect(200)).body.data).toHaveLength(3);
    for (const limit of ["0", "501", "1.5", "ten"]) {
      const res = await h.http.get("/quarantine").query({ limit }).expect(400);
      expect(res.body.error, limit).toMatchObject({
        code: "invalid_query",
        message: "Invalid query parameters",
        details: [{ path: "limit", message: "must be an integer from 1 to 500" }],
      });
    }
  });

  it("shows a body over 64 KiB as truncated, with its full size", async () => {
    const bytes = Buffer.alloc(70 * 1024, "x");
    await h.http
      .post("/notifications")
      .set(unwrappedHeaders())
      .set("content-type", "text/plain")
      .send(bytes.toString())
      .expect(200);
    const [entry] = await quarantine();
    expect(entry).toMatchObject({
      reason: "invalid_json",
      bodyBytes: 70 * 1024,
      bodyTruncated: true,
      bodyEncoding: "utf8",
    });
    expect(entry!.body).toBe("x".repeat(64 * 1024));
  });

  it("still answers 413 to a body over the limit: nothing of it was read or recorded", async () => {
    const res = await h.http
      .post("/notifications")
      .set(unwrappedHeaders())
      .send({ blob: "x".repeat(2 * 1024 * 1024) })
      .expect(413);
    expect(res.body.error.code).toBe("payload_too_large");
    expect(await quarantine()).toHaveLength(0);
  });
});
