import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTracing, type Tracing } from "../../src/observability/tracing.ts";
import { makeEvent } from "../helpers/events.ts";
import { type OtlpReceiver, SPAN_KIND, startOtlpReceiver } from "../helpers/otlpReceiver.ts";
import { type Harness, startHarness } from "../helpers/relayHarness.ts";
import { waitForValue } from "../helpers/waitFor.ts";

// The tracing SDK started as the processes start it, here in the test's own process (this file
// runs in a process of its own): http/json to the OTLP receiver, and a message from the pull worker.
let receiver: OtlpReceiver;
let tracing: Tracing;
let h: Harness;
beforeAll(async () => {
  receiver = await startOtlpReceiver();
  // The SDK reads the process's environment, as it does in the relay's processes.
  Object.assign(process.env, {
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    OTEL_BSP_SCHEDULE_DELAY: "50",
  });
  tracing = await startTracing();
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
  await tracing.shutdown();
  await receiver.close();
});

describe("tracing configured by the standard OTEL_* variables", () => {
  it("is off and starts nothing without an OTLP endpoint, or when disabled", async () => {
    expect((await startTracing({})).enabled).toBe(false);
    expect(
      (await startTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_SDK_DISABLED: "true" })).enabled,
    ).toBe(false);
    expect(
      (await startTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_TRACES_EXPORTER: "none" })).enabled,
    ).toBe(false);
    expect(tracing.enabled).toBe(true);
  });

  it("gives a pulled message a CONSUMER span in its publisher's trace, exported as http/json", async () => {
    const traceId = randomBytes(16).toString("hex");
    const parent = randomBytes(8).toString("hex");
    const event = makeEvent();
    const result = await h.container.ingest.accept({
      body: Buffer.from(JSON.stringify(event)),
      pulled: { kind: "pull", pubsubMessageId: "9001", subscription: "projects/gigs/subscriptions/relay-pull" },
      attributes: { googclient_traceparent: `00-${traceId}-${parent}-01` },
    });
    expect(result.outcome.status).toBe("accepted");
    await h.settle();
    const consumer = await waitForValue(
      () => receiver.spans.find((s) => s.traceId === traceId && s.kind === SPAN_KIND.consumer),
      "the consumer span",
    );
    expect(consumer).toMatchObject({ name: "process relay-pull", parentSpanId: parent, encoding: "json" });
    expect(consumer.attributes).toMatchObject({
      "messaging.system": "gcp_pubsub",
      "messaging.message.id": "9001",
      "gigs.event.id": event.id,
      "gigs.relay.outcome": "accepted",
    });
    await waitForValue(
      () =>
        receiver.spans.find((s) => s.traceId === traceId && s.kind === SPAN_KIND.client && s.name.startsWith("POST")),
      "the Svix call in the same trace",
    );
    expect((await h.container.store.summary(event.id))?.traceContext).toMatch(
      new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`),
    );
  });

  it("starts a new trace when the caller sent none, and quarantines in a span too", async () => {
    const before = receiver.spans.length;
    const result = await h.container.ingest.accept({
      body: Buffer.from("not json"),
      pulled: { kind: "pull", pubsubMessageId: "9002", subscription: "projects/gigs/subscriptions/relay-pull" },
    });
    expect(result.outcome.status).toBe("quarantined");
    const span = await waitForValue(
      () => receiver.spans.slice(before).find((s) => s.attributes["messaging.message.id"] === "9002"),
      "the quarantine's span",
    );
    expect(span.parentSpanId).toBe("");
    expect(span.attributes["gigs.relay.outcome"]).toBe("quarantined");
  });
});
