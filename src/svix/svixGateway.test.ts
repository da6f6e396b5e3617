import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { AppError } from "../errors.ts";
import { createMetrics } from "../observability/metrics.ts";
import type { SvixCall } from "../notifications/ports.ts";
import { makeEvent } from "../../test/helpers/events.ts";
import { SvixEmulator } from "../emulator/svixEmulator.ts";
import { parseRetryAfter, SdkSvixGateway } from "./svixGateway.ts";

let emulator: SvixEmulator;
let gateway: SdkSvixGateway;
beforeAll(async () => {
  emulator = new SvixEmulator({ apiKey: "k" });
  gateway = new SdkSvixGateway({ apiKey: "k", serverUrl: await emulator.start(), requestTimeoutMs: 300, metrics: createMetrics() });
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
    expect(error).toMatchObject({ code: "svix_rate_limited", retryAfterSeconds: 12, upstreamStatus: 429, retryable: true });
  });

  it.each([500, 502, 503, 504])("%i → svix_unavailable (retryable)", async (status) => {
    emulator.faults.add({ kind: "status", status, times: 1 });
    expect(await failure(gateway.createMessage(message()))).toMatchObject({ code: "svix_unavailable", upstreamStatus: status, retryable: true });
  });

  it.each([401, 403])("%i → svix_unauthorized (retryable: our key, not the event)", async (status) => {
    emulator.faults.add({ kind: "status", status, times: 1 });
    expect(await failure(gateway.createMessage(message()))).toMatchObject({ code: "svix_unauthorized", upstreamStatus: status, retryable: true });
  });

  it("a non-JSON 429 from a proxy → still svix_rate_limited, with its Retry-After", async () => {
    emulator.faults.add({ kind: "status", status: 429, retryAfter: "4", rawBody: "<html>Too Many Requests</html>", times: 1 });
    expect(await failure(gateway.createMessage(message()))).toMatchObject({ code: "svix_rate_limited", upstreamStatus: 429, retryAfterSeconds: 4 });
  });

  it("a non-JSON 413 → svix_rejected, not retried as an outage", async () => {
    emulator.faults.add({ kind: "status", status: 413, rawBody: "<html>Request Entity Too Large</html>", times: 1 });
    expect(await failure(gateway.createMessage(message()))).toMatchObject({ code: "svix_rejected", upstreamStatus: 413, retryable: false });
  });

  it.each([400, 404, 413, 422])("%i → svix_rejected (permanent)", async (status) => {
    emulator.faults.add({ kind: "status", status, times: 1 });
    expect(await failure(gateway.createMessage(message()))).toMatchObject({ code: "svix_rejected", upstreamStatus: status, retryable: false });
  });

  it("409 on a message → delivered as a duplicate", async () => {
    await gateway.createMessage(message("evt_dup"));
    const calls: SvixCall[] = [];
    const again = await gateway.createMessage(message("evt_dup"), { onCall: (c) => calls.push(c) });
    expect(again).toEqual({ messageId: null, duplicate: true, httpStatus: 409 });
    expect(calls).toEqual([expect.objectContaining({ operation: "message.create", outcome: "duplicate", httpStatus: 409 })]);
  });

  it("a call that never answers → svix_unavailable after SVIX_TIMEOUT_MS, not sooner and not much later", async () => {
    const slow = new SdkSvixGateway({ apiKey: "k", serverUrl: emulator.url, requestTimeoutMs: 1000, metrics: createMetrics() });
    emulator.faults.add({ kind: "hang", times: 1 });
    const started = Date.now();
    expect(await failure(slow.createMessage(message()))).toMatchObject({ code: "svix_unavailable", upstreamStatus: undefined });
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(950);
    // Wide for a busy machine, yet well under a timeout twice as long.
    expect(elapsed).toBeLessThan(1900);
  });

  it("the request's deadline shortens the call's timeout", async () => {
    const slow = new SdkSvixGateway({ apiKey: "k", serverUrl: emulator.url, requestTimeoutMs: 5000, metrics: createMetrics() });
    emulator.faults.add({ kind: "hang", times: 1 });
    const started = Date.now();
    expect(await failure(slow.createMessage(message(), { deadline: Date.now() + 300 }))).toMatchObject({ code: "svix_unavailable" });
    expect(Date.now() - started).toBeLessThan(2500);
  });

  it("a reset connection → svix_unavailable", async () => {
    emulator.faults.add({ kind: "reset", times: 1 });
    expect((await failure(gateway.createMessage(message()))).code).toBe("svix_unavailable");
  });

  it("reports each call with its outcome, status and duration", async () => {
    emulator.faults.add({ kind: "latency", minMs: 200, maxMs: 200, times: 1 });
    const calls: SvixCall[] = [];
    const before = Date.now();
    const sent = await gateway.createMessage(message(), { onCall: (c) => calls.push(c) });
    const elapsed = Date.now() - before;
    expect(calls).toEqual([expect.objectContaining({ operation: "message.create", outcome: "delivered", httpStatus: 202, messageId: sent.messageId })]);
    expect(calls[0]!.durationMs).toBeGreaterThanOrEqual(190);
    expect(calls[0]!.durationMs).toBeLessThanOrEqual(elapsed + 1);
    expect(calls[0]!.startedAt.getTime()).toBeGreaterThanOrEqual(before);
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
});
