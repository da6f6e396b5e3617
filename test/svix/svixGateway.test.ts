import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { AppError } from "../../src/errors.ts";
import { createMetrics } from "../../src/observability/metrics.ts";
import type { SvixCall } from "../../src/core/ports/svix.ts";
import { makeEvent } from "../helpers/events.ts";
import { SvixEmulator } from "../../src/emulator/svixEmulator.ts";
import { parseRetryAfter } from "../../src/svix/svixErrors.ts";
import { SdkSvixGateway } from "../../src/svix/svixGateway.ts";

let emulator: SvixEmulator;
let gateway: SdkSvixGateway;
beforeAll(async () => {
  emulator = new SvixEmulator({ apiKey: "k" });
  gateway = new SdkSvixGateway({
    apiKey: "k",
    serverUrl: await emulator.start(),
    requestTimeoutMs: 300,
    metrics: createMetrics(),
  });
});
afterAll(() => emulator.stop());
beforeEach(() => emulator.reset());

const message = (eventId = "evt_1") => ({
  appUid: "p",
  appName: "p",
  project: "p",
  eventType: "user.created",
  eventId,
  idempotencyKey: `key-${eventId}-${Math.random()}`,
  payload: makeEvent({ id: eventId }),
});

async function failure(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }
  throw new Error("expected a failure");
}

describe("SdkSvixGateway classifies every Svix answer once", () => {
  it("429 → svix_rate_limited with Retry-After seconds (retryable)", async () => {
    emulator.faults.add({ kind: "status", status: 429, retryAfter: "12", times: 1 });
    const error = await failure(gateway.createMessage(message()));
    expect(error).toMatchObject({
      code: "svix_rate_limited",
      retryAfterSeconds: 12,
      upstreamStatus: 429,
      retryable: true,
    });
  });

  it.each([500, 502, 503, 504])("%i → svix_unavailable (retryable)", async (status) => {
    emulator.faults.add({ kind: "status", status, times: 1 });
    expect(await failure(gateway.createMessage(message()))).toMatchObject({
      code: "svix_unavailable",
      upstreamStatus: status,
      retryable: true,
    });
  });

  it.each([401, 403])("%i → svix_unauthorized (retryable: our key, not the event)", async (status) => {
    emulator.faults.add({ kind: "status", status, times: 1 });
    expect(await failure(gateway.createMessage(message()))).toMatchObject({
      code: "svix_unauthorized",
      upstreamStatus: status,
      retryable: true,
    });
  });

  it("a non-JSON 429 from a proxy → still svix_rate_limited, with its Retry-After", async () => {
    emulator.faults.add({
      kind: "status",
      status: 429,
      retryAfter: "4",
      rawBody: "<html>Too Many Requests</html>",
      times: 1,
    });
    expect(await failure(gateway.createMessage(message()))).toMatchObject({
      code: "svix_rate_limited",
      upstreamStatus: 429,
      retryAfterSeconds: 4,
    });
  });

  it("a non-JSON 413 → svix_rejected, not retried as an outage", async () => {
    emulator.faults.add({ kind: "status", status: 413, rawBody: "<html>Request Entity Too Large</html>", times: 1 });
    expect(await failure(gateway.createMessage(message()))).toMatchObject({
      code: "svix_rejected",
      upstreamStatus: 413,
      retryable: false,
    });
  });

  it.each([400, 404, 413, 422])("%i → svix_rejected (permanent)", async (status) => {
    emulator.faults.add({ kind: "status", status, times: 1 });
    expect(await failure(gateway.createMessage(message()))).toMatchObject({
      code: "svix_rejected",
      upstreamStatus: status,
      retryable: false,
    });
  });

  it("409 on a message → delivered as a duplicate", async () => {
    await gateway.createMessage(message("evt_dup"));
    const calls: SvixCall[] = [];
    const again = await gateway.createMessage(message("evt_dup"), { onCall: (c) => calls.push(c) });
    expect(again).toEqual({ messageId: null, duplicate: true, httpStatus: 409 });
    expect(calls).toEqual([
      expect.objectContaining({ operation: "message.create", outcome: "duplicate", httpStatus: 409 }),
    ]);
  });

  it("a call that never answers → svix_unavailable after SVIX_TIMEOUT_MS, not sooner and not much later", async () => {
    const slow = new SdkSvixGateway({
      apiKey: "k",
      serverUrl: emulator.url,
      requestTimeoutMs: 1000,
      metrics: createMetrics(),
    });
    emulator.faults.add({ kind: "hang", times: 1 });
    const started = Date.now();
    expect(await failure(slow.createMessage(message()))).toMatchObject({
      code: "svix_unavailable",
      upstreamStatus: undefined,
    });
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(950);
    // Wide for a busy machine, yet well under a timeout twice as long.
    expect(elapsed).toBeLessThan(1900);
  });

  it("the request's deadline shortens the call's timeout", async () => {
    const slow = new SdkSvixGateway({
      apiKey: "k",
      serverUrl: emulator.url,
      requestTimeoutMs: 5000,
      metrics: createMetrics(),
    });
    emulator.faults.add({ kind: "hang", times: 1 });
    const started = Date.now();
    expect(await failure(slow.createMessage(message(), { deadline: Date.now() + 300 }))).toMatchObject({
      code: "svix_unavailable",
    });
    expect(Date.now() - started).toBeLessThan(2500);
  });

  it("a reset connection → svix_unavailable", async () => {
    // Twice: on a kept-alive connection idle for a second or more, the client tries once more
    // (LeanHttpClient's staleAfterMs), and that try is reset too.
    emulator.faults.add({ kind: "reset", times: 2 });
    expect((await failure(gateway.createMessage(message()))).code).toBe("svix_unavailable");
  });

  it("reports each call with its outcome, status and duration", async () => {
    emulator.faults.add({ kind: "latency", minMs: 200, maxMs: 200, times: 1 });
    const calls: SvixCall[] = [];
    const before = Date.now();
    const sent = await gateway.createMessage(message(), { onCall: (c) => calls.push(c) });
    const elapsed = Date.now() - before;
    expect(calls).toEqual([
      expect.objectContaining({
        operation: "message.create",
        outcome: "delivered",
        httpStatus: 202,
        messageId: sent.messageId,
      }),
    ]);
    expect(calls[0]!.durationMs).toBeGreaterThanOrEqual(190);
    expect(calls[0]!.durationMs).toBeLessThanOrEqual(elapsed + 1);
    expect(calls[0]!.startedAt.getTime()).toBeGreaterThanOrEqual(before);
  });
});

describe("the message an operator reads for each kind of answer", () => {
  it("Svix's error body { code, detail } reads as code: detail", async () => {
    emulator.faults.add({ kind: "status", status: 400, times: 1 });
    expect((await failure(gateway.createMessage(message()))).message).toBe(
      "Svix rejected the request (400): bad_request: injected 400",
    );
  });

  it("a validation body lists each field as loc.path: msg, joined by '; '", async () => {
    const error = await failure(gateway.createMessage({ ...message("bad id"), eventType: "bad type" }));
    expect(error).toMatchObject({ code: "svix_rejected", upstreamStatus: 422 });
    expect(error.message).toBe(
      'Svix rejected the request (422): body.eventId: must match pattern "^[a-zA-Z0-9\\-_.]+$"; body.eventType: must match pattern "^[a-zA-Z0-9\\-_.]+$"',
    );
  });

  it.each([
    ["a validation item without loc or msg", '{"detail":[{"type":"value_error"}]}', ": invalid"],
    ["a detail without a code", '{"detail":"Application not found"}', "Application not found"],
    ["a body with neither code nor detail", '{"message":"nope"}', "no detail"],
    ["a JSON null body", "null", "no detail"],
    ["a JSON string body (cut at 200 characters)", JSON.stringify(`${"x".repeat(200)}TAIL`), "x".repeat(200)],
    ["a body that is not JSON", "<html>Unprocessable</html>", "unreadable body"],
  ])("%s", async (_what, rawBody, detail) => {
    emulator.faults.add({ kind: "status", status: 422, rawBody, times: 1 });
    const error = await failure(gateway.createMessage(message()));
    expect(error).toMatchObject({ code: "svix_rejected", upstreamStatus: 422 });
    expect(error.message).toBe(`Svix rejected the request (422): ${detail}`);
  });

  it("429 names Svix's reason; 401 points at SVIX_API_KEY", async () => {
    emulator.faults.add({ kind: "status", status: 429, times: 1 }, { kind: "status", status: 401, times: 1 });
    expect((await failure(gateway.createMessage(message()))).message).toBe(
      "Svix is rate limiting (rate_limited: injected 429)",
    );
    expect((await failure(gateway.createMessage(message()))).message).toBe(
      "Svix refused our credentials (401); check SVIX_API_KEY",
    );
  });

  it("408 → svix_unavailable (retryable), like a 5xx; a 5xx keeps its Retry-After", async () => {
    emulator.faults.add(
      { kind: "status", status: 408, times: 1 },
      { kind: "status", status: 503, retryAfter: "7", times: 1 },
    );
    expect(await failure(gateway.createMessage(message()))).toMatchObject({
      code: "svix_unavailable",
      message: "Svix answered 408",
      upstreamStatus: 408,
      retryable: true,
    });
    expect(await failure(gateway.createMessage(message()))).toMatchObject({
      code: "svix_unavailable",
      message: "Svix answered 503",
      upstreamStatus: 503,
      retryAfterSeconds: 7,
    });
  });

  it("409 on a call other than a message → svix_rejected as a conflict, not a duplicate", async () => {
    emulator.faults.add({ kind: "status", status: 409, operation: "application.create", times: 1 });
    const calls: SvixCall[] = [];
    const error = await failure(
      gateway.getOrCreateApplication({ uid: "acme", name: "Acme", project: "acme" }, { onCall: (c) => calls.push(c) }),
    );
    expect(error).toMatchObject({
      code: "svix_rejected",
      message: "Svix conflict: bad_request: injected 409",
      upstreamStatus: 409,
      retryable: false,
    });
    expect(calls).toEqual([
      expect.objectContaining({
        operation: "application.getOrCreate",
        outcome: "rejected",
        httpStatus: 409,
        errorCode: "svix_rejected",
      }),
    ]);
  });

  it("a timeout reads 'Svix did not answer in time', with the client's timeout as its cause", async () => {
    emulator.faults.add({ kind: "hang", times: 1 });
    const error = await failure(gateway.createMessage(message()));
    expect(error).toMatchObject({
      code: "svix_unavailable",
      message: "Svix did not answer in time",
      upstreamStatus: undefined,
    });
    expect(error.cause).toMatchObject({ name: "TimeoutError", message: "no answer within 300 ms" });
  });

  it("a network error names the socket's error, kept as the cause", async () => {
    emulator.faults.add({ kind: "reset", times: 2 });
    const error = await failure(gateway.createMessage(message()));
    expect(error).toMatchObject({
      code: "svix_unavailable",
      message: "Svix could not be reached (socket hang up)",
      upstreamStatus: undefined,
    });
    expect(error.cause).toMatchObject({ code: "ECONNRESET" });
  });

  it("a 2xx whose body is not JSON → svix_unavailable (unreadable), not a rejection", async () => {
    emulator.faults.add({ kind: "status", status: 200, rawBody: "<html>OK</html>", times: 1 });
    const error = await failure(gateway.createMessage(message()));
    expect(error).toMatchObject({
      code: "svix_unavailable",
      message: "Svix answered with an unreadable body",
      upstreamStatus: undefined,
      retryable: true,
    });
    expect(error.cause).toBeInstanceOf(SyntaxError);
  });
});

describe("what the gateway reports and counts", () => {
  it("counts each call by operation and result, and no call stays in flight", async () => {
    const metrics = createMetrics();
    const counted = new SdkSvixGateway({ apiKey: "k", serverUrl: emulator.url, requestTimeoutMs: 300, metrics });
    const project = { uid: "acme", name: "Acme", project: "acme" };
    await counted.getOrCreateApplication(project);
    await counted.appPortalAccess({ appUid: "acme", appName: "Acme", project: "acme" });
    // Unknown to Svix (the read answers 404), then created; then read and left alone.
    await counted.ensureEventType({ name: "user.created", description: "A user was created", schemas: null });
    await counted.ensureEventType({ name: "user.created", description: "A user was created", schemas: null });
    await counted.checkCredentials();
    await counted.createMessage(message("evt_twice"));
    await counted.createMessage(message("evt_twice"));
    emulator.faults.add(
      { kind: "status", status: 429, times: 1 },
      { kind: "status", status: 403, times: 1 },
      { kind: "status", status: 400, times: 1 },
      { kind: "status", status: 503, times: 1 },
      { kind: "reset", times: 2 },
    );
    for (let i = 0; i < 5; i++) await failure(counted.createMessage(message()));
    const counts = (await metrics.svixCalls.get()).values.map((v) => ({ ...v.labels, value: v.value }));
    expect(counts).toEqual(
      expect.arrayContaining([
        { operation: "application.getOrCreate", result: "ok", value: 1 },
        { operation: "appPortalAccess", result: "ok", value: 1 },
        { operation: "eventType.get", result: "rejected", value: 1 },
        { operation: "eventType.get", result: "ok", value: 1 },
        { operation: "eventType.upsert", result: "ok", value: 1 },
        { operation: "application.list", result: "ok", value: 1 },
        { operation: "message.create", result: "ok", value: 1 },
        { operation: "message.create", result: "conflict", value: 1 },
        { operation: "message.create", result: "rate_limited", value: 1 },
        { operation: "message.create", result: "unauthorized", value: 1 },
        { operation: "message.create", result: "rejected", value: 1 },
        { operation: "message.create", result: "unavailable", value: 1 },
        { operation: "message.create", result: "network", value: 1 },
      ]),
    );
    expect(counts).toHaveLength(13);
    expect((await metrics.svixInFlight.get()).values[0]!.value).toBe(0);
  });

  it("reports a rejected call and a retryable one with Svix's status and the error; a duplicate without an error", async () => {
    emulator.faults.add({ kind: "status", status: 400, times: 1 }, { kind: "status", status: 503, times: 1 });
    const calls: SvixCall[] = [];
    const onCall = (c: SvixCall) => calls.push(c);
    await failure(gateway.createMessage(message(), { onCall }));
    await failure(gateway.createMessage(message(), { onCall }));
    await gateway.createMessage(message("evt_dup"));
    await gateway.createMessage(message("evt_dup"), { onCall });
    expect(calls).toEqual([
      expect.objectContaining({
        operation: "message.create",
        outcome: "rejected",
        httpStatus: 400,
        errorCode: "svix_rejected",
        error: "Svix rejected the request (400): bad_request: injected 400",
      }),
      expect.objectContaining({
        operation: "message.create",
        outcome: "retryable",
        httpStatus: 503,
        errorCode: "svix_unavailable",
        error: "Svix answered 503",
      }),
      expect.objectContaining({ operation: "message.create", outcome: "duplicate", httpStatus: 409 }),
    ]);
    expect(calls[2]!.errorCode).toBeUndefined();
    expect(calls[2]!.error).toBeUndefined();
  });

  it("reports a call that is not a message as ok, without a message id", async () => {
    const calls: SvixCall[] = [];
    await gateway.getOrCreateApplication(
      { uid: "acme", name: "Acme", project: "acme" },
      { onCall: (c) => calls.push(c) },
    );
    expect(calls).toEqual([
      expect.objectContaining({ operation: "application.getOrCreate", outcome: "ok", httpStatus: 201 }),
    ]);
    expect(calls[0]!.messageId).toBeUndefined();
  });
});

describe("what Svix receives", () => {
  it("getOrCreateApplication: the project in the metadata, a stable idempotency key, the same app the second time", async () => {
    const first = await gateway.getOrCreateApplication({ uid: "acme", name: "Acme", project: "acme-project" });
    const second = await gateway.getOrCreateApplication({ uid: "acme", name: "Acme", project: "acme-project" });
    expect(second).toEqual(first);
    expect(first).toEqual({ id: expect.stringMatching(/^app_/), uid: "acme" });
    expect(emulator.state.findApp("acme")).toMatchObject({
      id: first.id,
      name: "Acme",
      metadata: { gigsProject: "acme-project" },
    });
    expect(emulator.calls.map((c) => c.idempotencyKey)).toEqual(["gigs-relay-app-acme", "gigs-relay-app-acme"]);
  });

  it("appPortalAccess creates the application with its project; readOnly asks for the ViewBase capability only", async () => {
    const access = await gateway.appPortalAccess({
      appUid: "acme",
      appName: "Acme",
      project: "acme-project",
      expirySeconds: 3600,
      featureFlags: ["beta"],
      readOnly: true,
    });
    expect(access).toEqual({
      url: expect.stringContaining("/app-portal/login#key="),
      token: expect.stringMatching(/^appsk_/),
    });
    await gateway.appPortalAccess({ appUid: "acme", appName: "Acme", project: "acme-project" });
    const app = emulator.state.findApp("acme");
    expect(app).toMatchObject({ name: "Acme", metadata: { gigsProject: "acme-project" } });
    expect(emulator.state.portalAccesses).toEqual([
      { appId: app!.id, expiry: 3600, featureFlags: ["beta"], capabilities: ["ViewBase"] },
      { appId: app!.id, expiry: null, featureFlags: null, capabilities: null },
    ]);
  });

  it("createMessage creates a missing application with its project", async () => {
    await gateway.createMessage({ ...message(), appUid: "acme", appName: "Acme", project: "acme-project" });
    expect(emulator.state.findApp("acme")).toMatchObject({ name: "Acme", metadata: { gigsProject: "acme-project" } });
  });

  it("ensureEventType creates a type Svix lacks, with its description and schemas (one read, one write)", async () => {
    const schemas = { "1": { type: "object", properties: { data: { type: "object" } }, examples: [{ a: 1 }] } };
    expect(await gateway.ensureEventType({ name: "user.created", description: "A user was created", schemas })).toBe(
      "created",
    );
    expect(emulator.state.eventTypes.get("user.created")).toMatchObject({
      description: "A user was created",
      schemas,
      archived: false,
    });
    expect(emulator.calls.map((c) => `${c.method} ${c.path} ${c.status}`)).toEqual([
      "GET /api/v1/event-type/user.created 404",
      "PUT /api/v1/event-type/user.created 201",
    ]);
  });

  it("ensureEventType leaves a type Svix holds as defined alone (one read), whatever the key order of its schemas", async () => {
    emulator.state.putEventType({
      name: "user.created",
      description: "A user was created",
      schemas: { "1": { type: "object", properties: { b: { type: "string" }, a: { type: "integer" } } } },
    });
    const schemas = { "1": { properties: { a: { type: "integer" }, b: { type: "string" } }, type: "object" } };
    expect(await gateway.ensureEventType({ name: "user.created", description: "A user was created", schemas })).toBe(
      "unchanged",
    );
    expect(emulator.calls.map((c) => `${c.method} ${c.status}`)).toEqual(["GET 200"]);
  });

  it.each([
    ["another description", { description: "made in the dashboard", schemas: null }],
    ["no schemas", { description: "A user was created", schemas: null }],
    ["other schemas", { description: "A user was created", schemas: { "1": { type: "object", title: "old" } } }],
  ])(
    "ensureEventType updates a type Svix holds with %s, keeping its archived and deprecated flags",
    async (_what, held) => {
      emulator.state.putEventType({ name: "user.created", ...held, archived: true, deprecated: true });
      const createdAt = emulator.state.eventTypes.get("user.created")!.createdAt;
      const schemas = { "1": { type: "object", title: "new" } };
      expect(await gateway.ensureEventType({ name: "user.created", description: "A user was created", schemas })).toBe(
        "updated",
      );
      expect(emulator.state.eventTypes.get("user.created")).toMatchObject({
        description: "A user was created",
        schemas,
        archived: true,
        deprecated: true,
        createdAt,
      });
      expect(emulator.calls.map((c) => `${c.method} ${c.status}`)).toEqual(["GET 200", "PUT 200"]);
    },
  );

  it("ensureEventType throws any failure but the read's 404, as the classified AppError", async () => {
    emulator.faults.add({ operation: "eventType.get", kind: "status", status: 503, times: 1 });
    expect(
      await failure(
        gateway.ensureEventType({ name: "user.updated", description: "A user was updated", schemas: null }),
      ),
    ).toMatchObject({ code: "svix_unavailable", upstreamStatus: 503 });
    emulator.faults.add({ operation: "eventType.upsert", kind: "status", status: 422, times: 1 });
    expect(
      await failure(
        gateway.ensureEventType({ name: "user.updated", description: "A user was updated", schemas: null }),
      ),
    ).toMatchObject({ code: "svix_rejected", upstreamStatus: 422 });
    expect(emulator.state.eventTypes.has("user.updated")).toBe(false);
  });
});

describe("checkCredentials", () => {
  it("ok when Svix takes the key", async () => {
    expect(await gateway.checkCredentials()).toEqual({ status: "ok" });
  });

  it.each([401, 403])("unauthorized on %i, with the message to act on", async (status) => {
    emulator.faults.add({ kind: "status", status, times: 1 });
    expect(await gateway.checkCredentials()).toEqual({
      status: "unauthorized",
      detail: `Svix refused our credentials (${status}); check SVIX_API_KEY`,
    });
  });

  it("unauthorized with a wrong key", async () => {
    const wrongKey = new SdkSvixGateway({
      apiKey: "wrong",
      serverUrl: emulator.url,
      requestTimeoutMs: 300,
      metrics: createMetrics(),
    });
    expect(await wrongKey.checkCredentials()).toMatchObject({ status: "unauthorized" });
  });

  it("unreachable on anything else, with what went wrong", async () => {
    emulator.faults.add({ kind: "status", status: 503, times: 1 }, { kind: "reset", times: 2 });
    expect(await gateway.checkCredentials()).toEqual({ status: "unreachable", detail: "Svix answered 503" });
    expect(await gateway.checkCredentials()).toEqual({
      status: "unreachable",
      detail: "Svix could not be reached (socket hang up)",
    });
  });
});

describe("parseRetryAfter", () => {
  it("reads seconds and HTTP dates, ignores garbage", () => {
    const now = Date.parse("2026-11-27T12:00:00Z");
    expect(parseRetryAfter("3", now)).toBe(3);
    expect(parseRetryAfter("0.5", now)).toBe(0.5);
    expect(parseRetryAfter("Fri, 27 Nov 2026 12:00:10 GMT", now)).toBe(10);
    expect(parseRetryAfter("Fri, 27 Nov 2026 11:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("soon", now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });

  it("takes only a whole number of seconds with an optional fraction, around spaces", () => {
    const now = Date.parse("2026-11-27T12:00:00Z");
    expect(parseRetryAfter("1.25", now)).toBe(1.25);
    expect(parseRetryAfter(" 3 ", now)).toBe(3);
    expect(parseRetryAfter("3a", now)).toBeUndefined();
    expect(parseRetryAfter("a3", now)).toBeUndefined();
  });
});
