import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { makeEvent, wrapped } from "../helpers/events.ts";
import { startHarness, type Harness } from "../helpers/relayHarness.ts";

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ BODY_LIMIT_BYTES: String(2 * 1024 * 1024), SVIX_MAX_RETRIES: "0", CIRCUIT_FAILURE_THRESHOLD: "1000" });
});
afterAll(() => h.close());
beforeEach(() => h.emulator.reset());

const svixCalls = () => h.emulator.calls.length;

/** An event whose data is `{"a":{"a":…}}` n levels deep, as JSON text (JSON.stringify would overflow). */
function deepEvent(n: number): string {
  const json = JSON.stringify({ ...makeEvent(), data: "DEEP" });
  return json.replace('"DEEP"', `${'{"a":'.repeat(n)}{}${"}".repeat(n)}`);
}

describe("POST /notifications — malformed requests get a 4xx and reach nothing", () => {
  const cases: Array<[string, (r: ReturnType<Harness["http"]["post"]>) => ReturnType<Harness["http"]["post"]>, number, string]> = [
    ["a body that is not JSON", (r) => r.set("content-type", "application/json").send("{not json"), 400, "invalid_json"],
    ["an empty body", (r) => r.set("content-type", "application/json"), 400, "invalid_json"],
    ["a JSON string instead of an object", (r) => r.set("content-type", "application/json").send('"evt"'), 400, "invalid_json"],
    ["a JSON array", (r) => r.send([makeEvent()]), 400, "invalid_event"],
    ["null", (r) => r.set("content-type", "application/json").send("null"), 400, "invalid_json"],
    ["form data", (r) => r.type("form").send("a=b"), 415, "unsupported_media_type"],
    ["plain text", (r) => r.set("content-type", "text/plain").send(JSON.stringify(makeEvent())), 415, "unsupported_media_type"],
    ["an envelope whose message is not an object", (r) => r.send({ message: "x", subscription: "s" }), 400, "invalid_envelope"],
    ["an envelope without data", (r) => r.send({ message: { messageId: "1" }, subscription: "s" }), 400, "invalid_envelope"],
    ["an envelope whose data is not base64", (r) => r.send({ message: { data: "***", messageId: "1" } }), 400, "invalid_envelope"],
    [
      "an envelope whose data is not JSON",
      (r) => r.send({ message: { data: Buffer.from("hello").toString("base64"), messageId: "1" } }),
      400,
      "invalid_envelope",
    ],
    ["an envelope holding an invalid event", (r) => r.send(wrapped({ object: "event" })), 400, "invalid_event"],
    ["an envelope with a negative deliveryAttempt", (r) => r.send(wrapped(makeEvent(), { deliveryAttempt: -1 })), 400, "invalid_envelope"],
    ["an envelope with a deliveryAttempt too large to store", (r) => r.send(wrapped(makeEvent(), { deliveryAttempt: 2 ** 31 })), 400, "invalid_envelope"],
    ["an event nesting thousands of levels", (r) => r.set("content-type", "application/json").send(deepEvent(5000)), 400, "invalid_event"],
    ["an event id longer than Svix and the ledger take", (r) => r.send(makeEvent({ id: `evt_${"x".repeat(3000)}` })), 400, "invalid_event"],
    ["an event type longer than Svix takes", (r) => r.send(makeEvent({ type: "t".repeat(300) })), 400, "invalid_event"],
    ["a charset other than UTF-8", (r) => r.set("content-type", "application/json; charset=latin1").send("{}"), 415, "unsupported_media_type"],
  ];
  it.each(cases)("%s", async (_name, build, status, code) => {
    const res = await build(h.http.post("/notifications"));
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
    expect(typeof res.body.error.message).toBe("string");
    expect(res.body.error.requestId).toBe(res.headers["x-request-id"]);
    expect(svixCalls()).toBe(0);
  });

  it("names every schema violation, one detail each", async () => {
    const { id: _id, project: _project, ...rest } = makeEvent();
    const res = await h.http.post("/notifications").send({ ...rest, object: "user", time: "yesterday", data: "x" }).expect(400);
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

  it("answers 413 over the body limit, and the limit leaves room for a 1 MiB event in base64", async () => {
    const nearlyMiB = makeEvent({ data: { blob: "x".repeat(1024 * 1024 - 1024) } });
    await h.http.post("/notifications").send(wrapped(nearlyMiB)).expect(202);
    const huge = makeEvent({ data: { blob: "x".repeat(2 * 1024 * 1024) } });
    const res = await h.http.post("/notifications").send(huge).expect(413);
    expect(res.body.error.code).toBe("payload_too_large");
  });

  it("answers 404 with the error shape for unknown routes and notifications", async () => {
    expect((await h.http.get("/nope").expect(404)).body.error.code).toBe("not_found");
    expect((await h.http.get("/notifications/evt_unknown").expect(404)).body.error.code).toBe("not_found");
  });

  it("rejects event ids and projects the ledger cannot hold, in paths and queries, with 400", async () => {
    expect((await h.http.get("/notifications/a%00b").expect(400)).body.error.code).toBe("invalid_query");
    expect((await h.http.get(`/notifications/${"x".repeat(300)}`).expect(400)).body.error.code).toBe("invalid_query");
    expect((await h.http.get("/notifications").query({ project: "p\u0000" }).expect(400)).body.error.details[0].path).toBe("project");
  });

  it("rejects bad list queries with 400", async () => {
    const res = await h.http.get("/notifications").query({ status: "lost", limit: "0" }).expect(400);
    expect(res.body.error.details.map((d: { path: string }) => d.path).sort()).toEqual(["limit", "status"]);
  });
});

describe("POST /notifications — Svix failures map to the truth", () => {
  it("answers 503 with Retry-After when Svix fails, and delivers once on redelivery", async () => {
    h.emulator.faults.add({ kind: "status", status: 503, operation: "message.create", times: 1 });
    const event = makeEvent();
    const res = await h.http.post("/notifications").send(event).expect(503);
    expect(Number(res.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    await h.http.post("/notifications").send(event).expect(202);
    await h.http.post("/notifications").send(event).expect(200);
    expect(h.emulator.state.allMessages()).toHaveLength(1);
    const stored = (await h.http.get(`/notifications/${event.id}`).expect(200)).body.data;
    expect(stored.attempts.map((a: { outcome: string }) => a.outcome)).toEqual(["retryable", "delivered"]);
  });

  it("answers 422 when Svix rejects the message for good, records it rejected, and keeps answering 422", async () => {
    const event = makeEvent({ type: "user created!" });
    const res = await h.http.post("/notifications").send(event).expect(422);
    expect(res.body.error.code).toBe("svix_rejected");
    const stored = (await h.http.get(`/notifications/${event.id}`).expect(200)).body.data;
    expect(stored.status).toBe("rejected");
    expect(stored.lastError.code).toBe("svix_rejected");
    const calls = svixCalls();
    await h.http.post("/notifications").send(event).expect(422);
    expect(svixCalls()).toBe(calls);
  });

  it("counts Svix's 409 for an existing eventId as delivered", async () => {
    const event = makeEvent();
    const app = h.emulator.state.createApp({ name: event.project, uid: event.project });
    h.emulator.state.messagesOf(app.id).push({ id: "msg_existing", eventId: event.id, eventType: event.type, payload: event, channels: null, tags: null, timestamp: new Date().toISOString() });
    const res = await h.http.post("/notifications").send(event).expect(200);
    expect(res.body.data).toMatchObject({ status: "delivered", duplicate: true });
    const stored = (await h.http.get(`/notifications/${event.id}`).expect(200)).body.data;
    expect(stored.status).toBe("delivered");
    expect(stored.attempts[0]).toMatchObject({ outcome: "duplicate", httpStatus: 409 });
    expect(h.emulator.state.allMessages()).toHaveLength(1);
  });

  it("answers 503 when Svix cannot be reached at all", async () => {
    await h.emulator.stop();
    try {
      const res = await h.http.post("/notifications").send(makeEvent({ project: "unreachable-project" })).expect(503);
      expect(res.body.error.code).toBe("svix_unavailable");
    } finally {
      await h.emulator.start(Number(new URL(h.container.config.svixServerUrl!).port));
    }
  });

  it("treats an event as the same event after its round trip through the ledger (-0, key order)", async () => {
    const event = makeEvent({ data: { zero: -0, nested: { b: 1, a: 2 } } });
    await h.http.post("/notifications").send(event).expect(202);
    const reordered = { ...event, data: { nested: { a: 2, b: 1 }, zero: 0 } };
    await h.http.post("/notifications").send(reordered).expect(200);
    await h.http.post("/notifications").send(wrapped(event)).expect(200);
    expect(h.emulator.state.allMessages()).toHaveLength(1);
  });

  it("answers 503, not a permanent rejection, when Svix refuses our API key, and delivers once the key works", async () => {
    h.emulator.faults.add({ kind: "status", status: 401, operation: "message.create", times: 1 });
    const event = makeEvent();
    const res = await h.http.post("/notifications").send(event).expect(503);
    expect(res.body.error.code).toBe("svix_unauthorized");
    expect((await h.http.get(`/notifications/${event.id}`).expect(200)).body.data.status).toBe("failed");
    await h.http.post("/notifications").send(event).expect(202);
  });

  it("refuses a second event with the same id but a different body (422), keeping the first", async () => {
    const event = makeEvent();
    await h.http.post("/notifications").send(event).expect(202);
    const res = await h.http.post("/notifications").send({ ...event, data: { other: true } }).expect(422);
    expect(res.body.error.code).toBe("event_id_conflict");
    expect(h.emulator.state.allMessages()).toHaveLength(1);
  });
});

describe("logs", () => {
  it("never contain the payload's personal data or the Svix key", async () => {
    const event = makeEvent({ data: { email: "secret.person@example.com", phoneNumber: "+15550001111" } });
    await h.http.post("/notifications").send(event).expect(202);
    await h.http.post("/notifications").send({ ...event, time: "bad" }).expect(400);
    const all = h.rawLogs.join("\n");
    expect(all).not.toContain("secret.person@example.com");
    expect(all).not.toContain("+15550001111");
    expect(all).not.toContain("test-key");
    const summary = h.logs.find((l) => l.message === "notification relayed" && l.eventId === event.id);
    expect(summary).toMatchObject({ outcome: "delivered", severity: "INFO", project: event.project });
  });
});
