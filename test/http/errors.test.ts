import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { makeEvent, wrapped } from "../helpers/events.ts";
import { startHarness, type Harness } from "../helpers/relayHarness.ts";

let h: Harness;
beforeAll(async () => {
  h = await startHarness({
    BODY_LIMIT_BYTES: String(2 * 1024 * 1024),
    SVIX_MAX_RETRIES: "0",
    CIRCUIT_FAILURE_THRESHOLD: "1000",
  });
});
afterAll(() => h.close());
beforeEach(() => h.emulator.reset());

const svixCalls = () => h.emulator.calls.length;
const ledgerRows = () => h.container.db.prisma.notification.count();
const quarantined = () => h.container.db.prisma.quarantinedMessage.count();

/** An event whose data is `{"a":{"a":…}}` n levels deep, as JSON text (JSON.stringify would overflow). */
function deepEvent(n: number): string {
  const json = JSON.stringify({ ...makeEvent(), data: "DEEP" });
  return json.replace('"DEEP"', `${'{"a":'.repeat(n)}{}${"}".repeat(n)}`);
}

describe("POST /notifications from internal callers — malformed requests get a 4xx and reach nothing", () => {
  const json = (r: ReturnType<Harness["http"]["post"]>) => r.set("content-type", "application/json");
  const cases: Array<
    [string, (r: ReturnType<Harness["http"]["post"]>) => ReturnType<Harness["http"]["post"]>, number, string]
  > = [
    ["a body that is not JSON", (r) => json(r).send("{not json"), 400, "invalid_json"],
    ["an empty body", (r) => json(r), 400, "invalid_json"],
    [
      "a body that is not UTF-8",
      (r) =>
        json(r)
          .serialize((b: Buffer) => b as unknown as string)
          .send(Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])),
      400,
      "invalid_json",
    ],
    ["a JSON string instead of an object", (r) => json(r).send('"evt"'), 400, "invalid_event"],
    ["a JSON array", (r) => r.send([makeEvent()]), 400, "invalid_event"],
    ["null", (r) => json(r).send("null"), 400, "invalid_event"],
    ["form data", (r) => r.type("form").send("a=b"), 415, "unsupported_media_type"],
    [
      "plain text",
      (r) => r.set("content-type", "text/plain").send(JSON.stringify(makeEvent())),
      415,
      "unsupported_media_type",
    ],
    ["an event nesting thousands of levels", (r) => json(r).send(deepEvent(5000)), 400, "invalid_json"],
    [
      "an event id longer than Svix and the ledger take",
      (r) => r.send(makeEvent({ id: `evt_${"x".repeat(3000)}` })),
      400,
      "invalid_event",
    ],
    ["an event type longer than Svix takes", (r) => r.send(makeEvent({ type: "t".repeat(300) })), 400, "invalid_event"],
    [
      "a charset other than UTF-8",
      (r) => r.set("content-type", "application/json; charset=latin1").send("{}"),
      415,
      "unsupported_media_type",
    ],
    [
      "an event over Svix's 1 MiB limit",
      (r) => r.send(makeEvent({ data: { blob: "x".repeat(1024 * 1024) } })),
      413,
      "payload_too_large",
    ],
  ];
  it.each(cases)("%s", async (_name, build, status, code) => {
    const rowsBefore = await ledgerRows();
    const quarantinedBefore = await quarantined();
    const res = await build(h.http.post("/notifications"));
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
    expect(typeof res.body.error.message).toBe("string");
    expect(res.body.error.requestId).toBe(res.headers["x-request-id"]);
    expect(svixCalls()).toBe(0);
    expect(await ledgerRows()).toBe(rowsBefore);
    // Internal callers get their error; only Pub/Sub's messages are quarantined.
    expect(await quarantined()).toBe(quarantinedBefore);
  });

  it("says what is wrong with the body's type: empty, not JSON, not UTF-8", async () => {
    const error = async (build: (r: ReturnType<Harness["http"]["post"]>) => ReturnType<Harness["http"]["post"]>) =>
      (await build(h.http.post("/notifications"))).body.error;
    expect(await error((r) => r.set("content-type", "application/json"))).toMatchObject({
      code: "invalid_json",
      message: "The request body is empty; send the event as JSON",
    });
    expect(
      await error((r) => r.set("content-type", "application/json").set("content-length", "0").send("")),
    ).toMatchObject({ code: "invalid_json", message: "The request body is empty; send the event as JSON" });
    expect(await error((r) => r.set("content-type", "text/plain").send("{}"))).toMatchObject({
      code: "unsupported_media_type",
      message: "Content-Type text/plain is not supported; send application/json",
    });
    expect(
      await error((r) => r.serialize((b: Buffer) => b as unknown as string).send(Buffer.from("{}"))),
    ).toMatchObject({
      code: "unsupported_media_type",
      message: "Content-Type (none) is not supported; send application/json",
    });
    expect(await error((r) => r.set("content-type", "application/json;charset=latin1").send("{}"))).toMatchObject({
      code: "unsupported_media_type",
      message: "The charset is not supported; send UTF-8 JSON",
    });
    expect(svixCalls()).toBe(0);
  });

  it("takes JSON in UTF-8 however its type and charset are spelled, and a chunked body", async () => {
    for (const type of [
      "application/json",
      "application/json; charset=utf-8",
      "application/json;charset=UTF8",
      'application/json; charset="utf-8"',
      "application/cloudevents+json",
    ]) {
      const res = await h.http.post("/notifications").set("content-type", type).send(JSON.stringify(makeEvent()));
      expect(res.status, `${type}: ${JSON.stringify(res.body)}`).toBe(200);
    }
    const chunked = await new Promise<{ status: number; headers: Record<string, unknown> }>((resolve, reject) => {
      const req = h.http.post("/notifications").set("content-type", "application/json");
      req.write(JSON.stringify(makeEvent()));
      req.end((err, res) => (err ? reject(err) : resolve(res)));
    });
    expect(chunked.status).toBe(200);
  });

  it("names every schema violation, one detail each", async () => {
    const { id: _id, project: _project, ...rest } = makeEvent();
    const res = await h.http
      .post("/notifications")
      .send({ ...rest, object: "user", time: "yesterday", data: "x" })
      .expect(400);
    expect(res.body.error.code).toBe("invalid_event");
    expect(res.body.error.details).toEqual(
      expect.arrayContaining([
        { path: "/id", message: "is required" },
        { path: "/project", message: "is required" },
        { path: "/object", message: 'must be "event"' },
        { path: "/time", message: 'must match format "date-time"' },
        { path: "/data", message: "must be object" },
      ]),
    );
    expect(res.body.error.details).toHaveLength(5);
    expect(svixCalls()).toBe(0);
  });

  it("refuses an event that would not arrive unchanged, naming the path", async () => {
    const text = JSON.stringify(makeEvent({ data: { amount: 1, nested: { big: 2 } } }))
      .replace('"big":2', '"big":9007199254740993')
      .replace('"amount":1', '"amount":1,"amount":2');
    const res = await h.http.post("/notifications").set("content-type", "application/json").send(text).expect(400);
    expect(res.body.error.code).toBe("invalid_event");
    expect(res.body.error.details.map((d: { path: string }) => d.path).sort()).toEqual(["/data", "/data/nested/big"]);
  });

  it("answers 413 over the body limit, and the limit leaves room for a 1 MiB event in base64", async () => {
    const nearlyMiB = makeEvent({ data: { blob: "x".repeat(1024 * 1024 - 1024) } });
    const pushed = await h.http.post("/notifications").send(wrapped(nearlyMiB)).expect(200);
    expect(pushed.body.data.status).toBe("accepted");
    await h.settle();
    expect((await h.container.store.summary(nearlyMiB.id))?.status).toBe("delivered");
    const huge = makeEvent({ data: { blob: "x".repeat(2 * 1024 * 1024) } });
    const res = await h.http.post("/notifications").send(huge).expect(413);
    expect(res.body.error.code).toBe("payload_too_large");
  });

  it("answers 404 with the error shape for unknown routes and notifications", async () => {
    expect((await h.http.get("/nope").expect(404)).body.error.code).toBe("not_found");
    expect((await h.http.get("/notifications/evt_unknown").expect(404)).body.error).toMatchObject({
      code: "not_found",
      message: "No notification for event evt_unknown",
    });
    expect(
      (await h.http.delete("/notifications/evt_unknown/payload").type("json").expect(404)).body.error,
    ).toMatchObject({
      code: "not_found",
      message: "No notification for event evt_unknown",
    });
  });

  it("answers 404 on /svix/webhooks when Svix's operational webhooks are not set up, naming the setting", async () => {
    const res = await h.http.post("/svix/webhooks").set("content-type", "application/json").send("{}").expect(404);
    expect(res.body.error).toMatchObject({
      code: "not_found",
      message: "Svix operational webhooks are not configured (SVIX_WEBHOOK_SECRET)",
    });
  });

  it("rejects event ids and projects the ledger cannot hold, in paths and queries, with 400", async () => {
    expect((await h.http.get("/notifications/a%00b").expect(400)).body.error).toMatchObject({
      code: "invalid_query",
      message: "Invalid event id",
      details: [
        {
          path: "eventId",
          message: "must be 1 to 256 characters and must not contain NUL (\\u0000) or unpaired UTF-16 surrogates",
        },
      ],
    });
    expect((await h.http.get(`/notifications/${"x".repeat(300)}`).expect(400)).body.error.code).toBe("invalid_query");
    expect(
      (await h.http.get("/notifications").query({ project: "p\u0000" }).expect(400)).body.error.details[0].path,
    ).toBe("project");
  });

  it("rejects bad list queries with 400", async () => {
    const res = await h.http.get("/notifications").query({ status: "lost", limit: "0" }).expect(400);
    expect(res.body.error.details.map((d: { path: string }) => d.path).sort()).toEqual(["limit", "status"]);
  });
});

describe("POST /notifications from internal callers — Svix's answers map to the truth", () => {
  it("answers 202 queued with the next attempt when Svix fails; the dispatcher delivers it once", async () => {
    h.emulator.faults.add({ kind: "status", status: 503, operation: "message.create", times: 1 });
    const event = makeEvent();
    const res = await h.http.post("/notifications").send(event).expect(202);
    expect(res.body.data).toMatchObject({
      eventId: event.id,
      status: "queued",
      duplicate: false,
      lastError: { code: "svix_unavailable" },
    });
    expect(Date.parse(res.body.data.nextAttemptAt)).toBeGreaterThan(Date.now() - 1000);
    // A redelivery while it is queued is told so, and sends nothing.
    const again = await h.http.post("/notifications").send(event).expect(202);
    expect(again.body.data).toMatchObject({ status: "queued", duplicate: true });
    expect(svixCalls()).toBe(1);
    await h.container.db.prisma.notification.update({
      where: { eventId: event.id },
      data: { nextAttemptAt: new Date() },
    });
    await h.container.dispatcher.pass();
    expect((await h.container.store.summary(event.id))?.status).toBe("delivered");
    await h.http.post("/notifications").send(event).expect(200);
    expect(h.emulator.state.allMessages()).toHaveLength(1);
    const stored = (await h.http.get(`/notifications/${event.id}`).expect(200)).body.data;
    expect(stored.attempts.map((a: { trigger: string; outcome: string }) => `${a.trigger}:${a.outcome}`)).toEqual([
      "ingress:retryable",
      "dispatch:delivered",
    ]);
  });

  it("answers 422 when Svix rejects the message for good, records it rejected, and keeps answering 422", async () => {
    const event = makeEvent({ type: "user created!" });
    const res = await h.http.post("/notifications").send(event).expect(422);
    expect(res.body.data).toMatchObject({ status: "rejected", lastError: { code: "svix_rejected" } });
    expect(res.body.error).toEqual({
      code: "svix_rejected",
      message: res.body.data.lastError.message,
      details: [],
      requestId: res.headers["x-request-id"],
    });
    expect(res.body.error.requestId).toMatch(/\S/);
    const stored = (await h.http.get(`/notifications/${event.id}`).expect(200)).body.data;
    expect(stored.status).toBe("rejected");
    expect(stored.lastError.code).toBe("svix_rejected");
    const calls = svixCalls();
    expect((await h.http.post("/notifications").send(event).expect(422)).body.data).toMatchObject({
      status: "rejected",
      duplicate: true,
    });
    expect(svixCalls()).toBe(calls);
  });

  it("counts Svix's 409 for an existing eventId as delivered", async () => {
    const event = makeEvent();
    const app = h.emulator.state.createApp({ name: event.project, uid: event.project });
    h.emulator.state.addMessage(app.id, {
      id: "msg_existing",
      eventId: event.id,
      eventType: event.type,
      payload: event,
      channels: null,
      tags: null,
      timestamp: new Date().toISOString(),
    });
    const res = await h.http.post("/notifications").send(event).expect(200);
    expect(res.body.data).toMatchObject({ status: "delivered", duplicate: true });
    const stored = (await h.http.get(`/notifications/${event.id}`).expect(200)).body.data;
    expect(stored.status).toBe("delivered");
    expect(stored.attempts[0]).toMatchObject({ outcome: "duplicate", httpStatus: 409 });
    expect(h.emulator.state.allMessages()).toHaveLength(1);
  });

  it("queues the event when Svix cannot be reached at all", async () => {
    const port = Number(new URL(h.container.config.svixServerUrl!).port);
    await h.emulator.stop();
    try {
      const res = await h.http
        .post("/notifications")
        .send(makeEvent({ project: "unreachable-project" }))
        .expect(202);
      expect(res.body.data).toMatchObject({ status: "queued", lastError: { code: "svix_unavailable" } });
    } finally {
      await h.emulator.start(port);
    }
  });

  it("treats an event as the same event after its round trip through the ledger (-0, key order)", async () => {
    const event = makeEvent({ data: { zero: -0, nested: { b: 1, a: 2 } } });
    await h.http.post("/notifications").send(event).expect(200);
    const reordered = { ...event, data: { nested: { a: 2, b: 1 }, zero: 0 } };
    expect((await h.http.post("/notifications").send(reordered).expect(200)).body.data.duplicate).toBe(true);
    await h.http.post("/notifications").send(wrapped(event)).expect(200);
    expect(h.emulator.state.allMessages()).toHaveLength(1);
  });

  it("queues, never rejects, when Svix refuses our API key, and delivers once the key works", async () => {
    h.emulator.faults.add({ kind: "status", status: 401, operation: "message.create", times: 1 });
    const event = makeEvent();
    const res = await h.http.post("/notifications").send(event).expect(202);
    expect(res.body.data.lastError.code).toBe("svix_unauthorized");
    expect((await h.http.get(`/notifications/${event.id}`).expect(200)).body.data.status).toBe("queued");
    await h.container.db.prisma.notification.update({
      where: { eventId: event.id },
      data: { nextAttemptAt: new Date() },
    });
    await h.container.dispatcher.pass();
    expect((await h.http.get(`/notifications/${event.id}`).expect(200)).body.data.status).toBe("delivered");
  });

  it("refuses a second event with the same id but a different body (422), keeping the first", async () => {
    const event = makeEvent();
    await h.http.post("/notifications").send(event).expect(200);
    const quarantinedBefore = await quarantined();
    const res = await h.http
      .post("/notifications")
      .send({ ...event, data: { other: true } })
      .expect(422);
    expect(res.body.error.code).toBe("event_id_conflict");
    expect(h.emulator.state.allMessages()).toHaveLength(1);
    expect(await quarantined()).toBe(quarantinedBefore);
  });
});

describe("logs", () => {
  it("never contain the payload's personal data or the Svix key", async () => {
    const event = makeEvent({ data: { email: "secret.person@example.com", phoneNumber: "+15550001111" } });
    await h.http.post("/notifications").send(event).expect(200);
    await h.http
      .post("/notifications")
      .send({ ...event, time: "bad" })
      .expect(400);
    await h.http
      .post("/notifications")
      .send(wrapped({ ...event, id: "evt_other", time: "bad" }))
      .expect(200);
    const all = h.rawLogs.join("\n");
    expect(all).not.toContain("secret.person@example.com");
    expect(all).not.toContain("+15550001111");
    expect(all).not.toContain("test-key");
    const summary = h.logs.find((l) => l.message === "notification relayed" && l.eventId === event.id);
    expect(summary).toMatchObject({ outcome: "delivered", severity: "INFO", project: event.project });
  });
});
