import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SvixEmulator } from "../../src/emulator/svixEmulator.ts";
import { makeEvent, wrapped } from "../helpers/events.ts";
import { type OtlpReceiver, type ReceivedSpan, SPAN_KIND, startOtlpReceiver } from "../helpers/otlpReceiver.ts";
import { type RelayProcess, startRelayProcess } from "../helpers/relayProcess.ts";
import { createPostgresDatabase, usingPostgres } from "../helpers/testDatabase.ts";
import { waitForValue } from "../helpers/waitFor.ts";

// One trace from the publisher to Svix, as a new user would see it: the relay as `npm start`
// runs it, the standard OTEL_* variables pointing at an OTLP/HTTP receiver, Svix (our emulator)
// recording the traceparent each message create carries.
const OPERATOR = "operator-token-0123456789";
const PROJECT = "gigs-test-project";
let receiver: OtlpReceiver;
let emulator: SvixEmulator;
let relay: RelayProcess;
let cleanup: () => Promise<void>;

async function databaseEnv(): Promise<Record<string, string>> {
  if (usingPostgres()) {
    const db = await createPostgresDatabase();
    cleanup = db.drop;
    return { DATABASE_URL: db.url };
  }
  const dir = mkdtempSync(join(tmpdir(), "relay-tracing-"));
  cleanup = async () => rmSync(dir, { recursive: true, force: true });
  return { DATA_DIR: dir };
}

function traceparent(): { header: string; traceId: string; spanId: string } {
  const traceId = randomBytes(16).toString("hex");
  const spanId = randomBytes(8).toString("hex");
  return { header: `00-${traceId}-${spanId}-01`, traceId, spanId };
}

const spansOf = (traceId: string) => receiver.spans.filter((s) => s.traceId === traceId);
const waitForSpan = (what: string, find: () => ReceivedSpan | undefined) => waitForValue(find, what, 20_000);

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  emulator = new SvixEmulator({ apiKey: "tracing-key" });
  const svixUrl = await emulator.start();
  relay = await startRelayProcess({
    ...(await databaseEnv()),
    SVIX_API_KEY: "tracing-key",
    SVIX_SERVER_URL: svixUrl,
    API_TOKENS: OPERATOR,
    SVIX_MAX_RETRIES: "0",
    CIRCUIT_FAILURE_THRESHOLD: "1000",
    DISPATCH_INTERVAL_MS: "200",
    RETRY_BASE_DELAY_MS: "100",
    GOOGLE_CLOUD_PROJECT: PROJECT,
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf",
    OTEL_SERVICE_NAME: "relay-under-test",
    OTEL_BSP_SCHEDULE_DELAY: "100",
  });
});
afterAll(async () => {
  relay?.child.kill("SIGKILL");
  await relay?.exited;
  await emulator?.stop();
  await receiver?.close();
  await cleanup?.();
});

const post = (body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${relay.url}/notifications`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${OPERATOR}`, ...headers },
    body: JSON.stringify(body),
  });

/** The ingest span and the Svix client span of an event, in the trace given. */
async function traced(traceId: string, eventId: string) {
  const ingest = await waitForSpan("the ingest span", () =>
    spansOf(traceId).find(
      (s) =>
        s.attributes["gigs.event.id"] === eventId && (s.kind === SPAN_KIND.server || s.kind === SPAN_KIND.consumer),
    ),
  );
  const svix = await waitForSpan("the Svix call's span", () =>
    spansOf(traceId).find(
      (s) => s.kind === SPAN_KIND.client && s.attributes["url.template"] === "/api/v1/app/{app_id}/msg",
    ),
  );
  return { ingest, svix };
}

describe("one trace from the publisher to Svix", () => {
  it("continues a wrapped push's googclient_traceparent: ingest span, ledger write, Svix call — and Svix gets the traceparent", async () => {
    const caller = traceparent();
    const event = makeEvent();
    const envelope = wrapped(event);
    (envelope.message as { attributes?: Record<string, string> }).attributes = {
      googclient_traceparent: caller.header,
    };
    expect((await post(envelope)).status).toBe(200);
    const { ingest, svix } = await traced(caller.traceId, event.id);
    expect(ingest).toMatchObject({
      parentSpanId: caller.spanId,
      name: "POST /notifications",
      kind: SPAN_KIND.server,
      serviceName: "relay-under-test",
      encoding: "protobuf",
    });
    expect(ingest.attributes).toMatchObject({
      "messaging.system": "gcp_pubsub",
      "messaging.operation.type": "process",
      "messaging.message.id": envelope.message.messageId,
      "messaging.destination.subscription.name": envelope.subscription,
      "gigs.event.type": event.type,
      "gigs.project": event.project,
      "gigs.relay.outcome": "accepted",
    });
    expect(svix.name).toBe("POST /api/v1/app/{app_id}/msg");
    expect(svix.attributes).toMatchObject({
      "http.request.method": "POST",
      "server.address": "127.0.0.1",
      "http.response.status_code": 202,
    });
    // No key, no payload on any span.
    for (const span of spansOf(caller.traceId)) {
      const text = JSON.stringify(span.attributes);
      expect(text).not.toContain("tracing-key");
      expect(text).not.toContain(String(event.data.email ?? "jane.doe"));
    }
    const ledger = spansOf(caller.traceId).find((s) => s.name === "ledger insert");
    expect(ledger?.parentSpanId).toBe(ingest.spanId);
    const sent = emulator.calls.find(
      (c) => c.operation === "message.create" && c.traceparent?.includes(caller.traceId),
    );
    expect(sent?.traceparent).toBe(`00-${caller.traceId}-${svix.spanId}-01`);
  });

  it("continues a direct post's traceparent, and shows the trace id in the audit record and in the log lines", async () => {
    const caller = traceparent();
    const event = makeEvent();
    expect((await post(event, { traceparent: caller.header })).status).toBe(200);
    const { ingest } = await traced(caller.traceId, event.id);
    expect(ingest.parentSpanId).toBe(caller.spanId);
    expect(ingest.attributes["messaging.system"]).toBeUndefined();
    const audit = (await (
      await fetch(`${relay.url}/notifications/${event.id}`, { headers: { authorization: `Bearer ${OPERATOR}` } })
    ).json()) as { data: { traceId: string } };
    expect(audit.data.traceId).toBe(caller.traceId);
    const line = relay.output.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.eventId === event.id);
    expect(line).toMatchObject({
      message: "notification relayed",
      "logging.googleapis.com/trace": `projects/${PROJECT}/traces/${caller.traceId}`,
      "logging.googleapis.com/trace_sampled": true,
    });
  });

  it("delivers a queued event from the dispatcher in the trace it arrived in", async () => {
    const caller = traceparent();
    const event = makeEvent();
    emulator.faults.add({ kind: "status", status: 503, operation: "message.create", times: 1 });
    const res = await post(event, { traceparent: caller.header });
    expect(res.status).toBe(202);
    const dispatch = await waitForSpan("the dispatcher's span", () =>
      spansOf(caller.traceId).find((s) => s.name === "relay dispatch"),
    );
    expect(dispatch.attributes["gigs.event.id"]).toBe(event.id);
    const delivered = await waitForSpan("the dispatcher's Svix call", () =>
      spansOf(caller.traceId).find((s) => s.kind === SPAN_KIND.client && s.parentSpanId === dispatch.spanId),
    );
    expect(delivered.attributes["http.response.status_code"]).toBe(202);
    expect(delivered.status.code).toBe(0);
    // The call Svix answered 503 (the ingest's): a span with an error status, its type the status.
    const failed = await waitForSpan("the Svix call answered 503", () =>
      spansOf(caller.traceId).find(
        (s) => s.kind === SPAN_KIND.client && s.attributes["http.response.status_code"] === 503,
      ),
    );
    expect(failed.status.code).toBe(2);
    expect(failed.attributes["error.type"]).toBe("503");
    const ingest = spansOf(caller.traceId).find((s) => s.spanId === failed.parentSpanId);
    expect(ingest).toMatchObject({ kind: SPAN_KIND.server, status: { code: 0 } });
    expect(ingest?.attributes["gigs.relay.outcome"]).toBe("queued");
    const sent = emulator.state.allMessages().find((m) => m.eventId === event.id);
    expect(sent).toBeDefined();
    const calls = emulator.calls.filter(
      (c) => c.operation === "message.create" && c.traceparent?.includes(caller.traceId),
    );
    expect(calls.map((c) => c.status)).toEqual([503, 202]);
  });

  it("gives an operator's replay a span of its own, linked to the event's trace", async () => {
    const caller = traceparent();
    const event = makeEvent();
    emulator.faults.add({ kind: "status", status: 400, operation: "message.create", times: 1 });
    await post(event, { traceparent: caller.header });
    const replayed = await fetch(`${relay.url}/notifications/${event.id}/replay`, {
      method: "POST",
      headers: { authorization: `Bearer ${OPERATOR}` },
    });
    expect(replayed.status).toBe(200);
    const replay = await waitForSpan("the replay's span", () =>
      receiver.spans.find((s) => s.name === "relay replay" && s.attributes["gigs.event.id"] === event.id),
    );
    expect(replay.traceId).not.toBe(caller.traceId);
    expect(replay.links).toContainEqual({ traceId: caller.traceId, spanId: expect.any(String) });
  });
});

describe("an unwrapped push", () => {
  it("continues the googclient_traceparent header Pub/Sub makes of the attribute", async () => {
    const caller = traceparent();
    const event = makeEvent();
    const res = await post(event, {
      "x-goog-pubsub-message-id": "77001",
      "x-goog-pubsub-subscription-name": "projects/gigs/subscriptions/relay-unwrapped",
      "x-goog-pubsub-publish-time": "2026-12-06T10:00:00Z",
      googclient_traceparent: caller.header,
    });
    expect(res.status).toBe(200);
    const { ingest } = await traced(caller.traceId, event.id);
    expect(ingest.parentSpanId).toBe(caller.spanId);
    expect(ingest.attributes).toMatchObject({ "messaging.message.id": "77001", "gigs.transport": "push_unwrapped" });
  });
});
