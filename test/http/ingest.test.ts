// IngestService.accept(): the one path every arrival takes (direct post, wrapped or unwrapped
// push, pull worker), called as the routes and the worker call it, on the relay as built.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Counter } from "prom-client";
import type { AppError } from "../../src/errors.ts";
import { MAX_EVENT_BYTES, type IngestRequest, type QuarantineOutcome } from "../../src/ingest/ingestService.ts";
import { makeEvent, unwrappedHeaders, wrapped } from "../helpers/events.ts";
import { startHarness, type Harness } from "../helpers/relayHarness.ts";
import { insertClaimed } from "../helpers/claimedRow.ts";

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ SVIX_MAX_RETRIES: "0", CIRCUIT_FAILURE_THRESHOLD: "1000", IN_FLIGHT_WAIT_MS: "30000" });
});
afterAll(() => h.close());
beforeEach(() => h.emulator.reset());

const json = (value: unknown) => Buffer.from(JSON.stringify(value));
const accept = (request: IngestRequest) => h.container.ingest.accept(request);
const headers = (map: Record<string, string>) => (name: string) => map[name];
async function refusal(request: IngestRequest): Promise<AppError> {
  const error = await accept(request).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!error) throw new Error("accepted");
  return error as AppError;
}
async function quarantined(reason: string): Promise<number> {
  const { values } = await (h.container.metrics.quarantined as Counter<string>).get();
  return values.find((v) => v.labels.reason === reason)?.value ?? 0;
}
const stored = (id: string) =>
  h.container.db.prisma.quarantinedMessage.findUniqueOrThrow({ where: { id: BigInt(id) } });

describe("what arrives how", () => {
  it("a direct post is relayed as a body; a wrapped push with its Pub/Sub metadata; an unwrapped one from its headers", async () => {
    const direct = makeEvent();
    expect(await accept({ body: json(direct) })).toMatchObject({
      transport: { kind: "body" },
      outcome: { eventId: direct.id, status: "delivered" },
    });

    const pushed = makeEvent();
    const envelope = wrapped(pushed, { deliveryAttempt: 3 });
    expect(await accept({ body: json(envelope), fromPubsub: true })).toEqual({
      transport: {
        kind: "push_wrapped",
        pubsubMessageId: envelope.message.messageId,
        subscription: envelope.subscription,
        deliveryAttempt: 3,
        publishTime: envelope.message.publishTime,
      },
      // Pub/Sub is answered once the ledger owns the event; the Svix call follows.
      outcome: expect.objectContaining({ eventId: pushed.id, status: "accepted" }),
    });
    await h.settle();

    const unwrapped = makeEvent();
    const meta = unwrappedHeaders("4242");
    expect((await accept({ body: json(unwrapped), header: headers(meta), fromPubsub: true })).transport).toEqual({
      kind: "push_unwrapped",
      pubsubMessageId: "4242",
      subscription: meta["x-goog-pubsub-subscription-name"],
      publishTime: meta["x-goog-pubsub-publish-time"],
    });
    await h.settle();
    expect(h.emulator.state.allMessages().map((m) => m.eventId)).toEqual([direct.id, pushed.id, unwrapped.id]);
  });

  it("a pulled message is the event itself, with the worker's metadata: never taken for an envelope", async () => {
    const pulled = { kind: "pull" as const, pubsubMessageId: "77", subscription: "projects/p/subscriptions/s" };
    const event = makeEvent();
    expect(await accept({ body: json(event), pulled })).toMatchObject({
      transport: pulled,
      outcome: { status: "accepted" },
    });
    await h.settle();
    expect((await h.container.store.summary(event.id))?.status).toBe("delivered");
    // An envelope's shape pulled: not unwrapped, but quarantined as not an event.
    const result = await accept({ body: json(wrapped(makeEvent())), pulled: { ...pulled, pubsubMessageId: "78" } });
    expect(result.outcome).toMatchObject({ status: "quarantined", reason: "invalid_event" });
  });

  it("lets an internal caller wait for a delivery in flight, and answers Pub/Sub at once", async () => {
    const event = await insertClaimed(h.container.store, {
      claimToken: "elsewhere",
      claimExpiresAt: new Date(Date.now() + 60_000),
    });
    // Pub/Sub: the ledger owns it, answered as queued without waiting.
    expect((await accept({ body: json(wrapped(event)), fromPubsub: true })).outcome).toMatchObject({
      status: "queued",
      duplicate: true,
    });
    // An internal caller waits (IN_FLIGHT_WAIT_MS is 30 s here) and sees the delivery settle.
    const waiting = accept({ body: json(event) });
    await new Promise((resolve) => setTimeout(resolve, 200));
    await h.container.store.complete(event.id, "elsewhere", {
      status: "delivered",
      countsAsFailure: false,
      attempts: [],
      svixAppUid: "app",
      svixMessageId: "msg_elsewhere",
    });
    expect((await waiting).outcome).toMatchObject({
      status: "delivered",
      duplicate: true,
      svixMessageId: "msg_elsewhere",
    });
  });
});

describe("what cannot be read", () => {
  it("names what is wrong and where: the body or the event inside the envelope", async () => {
    const bad = Buffer.from([0x7b, 0xff, 0x7d]);
    expect(await refusal({ body: bad })).toMatchObject({
      code: "invalid_json",
      message: "The body is not valid UTF-8",
    });
    const syntax = await refusal({ body: Buffer.from("{") });
    expect(syntax).toMatchObject({ code: "invalid_json", message: "The body is not valid JSON" });
    expect(syntax.details).toEqual([
      expect.objectContaining({ path: expect.any(String), message: expect.any(String) }),
    ]);
    const complex = await refusal({ body: Buffer.from("[".repeat(100) + "]".repeat(100)) });
    expect(complex).toMatchObject({ code: "invalid_json", message: "The body is too complex" });
    expect(complex.details).toHaveLength(1);
    expect(await refusal({ body: Buffer.from('{"id":"a","id":"b"}') })).toMatchObject({
      code: "invalid_event",
      message: "The body cannot be relayed unchanged",
    });
    // The same problems inside a wrapped push name the event: a push is quarantined, not refused.
    const inEnvelope = (data: Buffer) =>
      json({
        message: { data: data.toString("base64"), messageId: `${Math.random()}`.slice(2) },
        subscription: "projects/p/subscriptions/s",
      });
    const errorOf = async (data: Buffer) =>
      ((await accept({ body: inEnvelope(data) })).outcome as QuarantineOutcome).error;
    expect(await errorOf(bad)).toMatchObject({ code: "invalid_json", message: "The event is not valid UTF-8" });
    expect(await errorOf(Buffer.from("{"))).toMatchObject({
      code: "invalid_json",
      message: "The event is not valid JSON",
    });
    expect(await errorOf(Buffer.from('{"id":"a","id":"b"}'))).toMatchObject({
      code: "invalid_event",
      message: "The event cannot be relayed unchanged",
    });
    // Even when the event inside looks like an envelope itself: only the outer body can be one.
    expect(await errorOf(Buffer.from('{"message":{},"message":{}}'))).toMatchObject({ code: "invalid_event" });
  });

  it("calls an envelope that would not arrive unchanged an envelope error, not an event error", async () => {
    const error = await refusal({
      body: Buffer.from('{"message":{"data":"e30=","data":"e30="},"subscription":"projects/p/subscriptions/s"}'),
    });
    expect(error).toMatchObject({ code: "invalid_envelope", message: "The body cannot be relayed unchanged" });
    expect(error.details).toEqual([expect.objectContaining({ path: "/message" })]);
  });

  it(`refuses an event over Svix's ${MAX_EVENT_BYTES} bytes, and takes one of exactly that size`, async () => {
    const sized = (bytes: number) => {
      const event = makeEvent({ data: { object: "blob", pad: "" } });
      const pad = bytes - json(event).length;
      return { ...event, data: { object: "blob", pad: "x".repeat(pad) } };
    };
    const largest = sized(MAX_EVENT_BYTES);
    expect(json(largest).length).toBe(MAX_EVENT_BYTES);
    expect((await accept({ body: json(largest) })).outcome).toMatchObject({ status: "delivered" });
    const tooLarge = sized(MAX_EVENT_BYTES + 1);
    expect(await refusal({ body: json(tooLarge) })).toMatchObject({
      code: "payload_too_large",
      message: `The event is ${MAX_EVENT_BYTES + 1} bytes; Svix takes at most ${MAX_EVENT_BYTES}`,
    });
    // Inside an envelope the event's own size counts, not the envelope's (which base64 makes larger).
    const enveloped = sized(MAX_EVENT_BYTES);
    expect((await accept({ body: json(wrapped(enveloped)), fromPubsub: true })).outcome).toMatchObject({
      status: "accepted",
    });
    await h.settle();
    expect((await h.container.store.summary(enveloped.id))?.status).toBe("delivered");
  });
});

describe("the quarantine (Pub/Sub only)", () => {
  it("keeps what Pub/Sub can never get delivered, once, with where it came from and every violation", async () => {
    const event = { ...makeEvent(), time: "not a time", version: 7 };
    const envelope = wrapped(event);
    const before = await quarantined("invalid_event");
    const first = await accept({ body: json(envelope), fromPubsub: true });
    const outcome = first.outcome as QuarantineOutcome;
    expect(outcome).toEqual({
      status: "quarantined",
      quarantineId: expect.any(String),
      reason: "invalid_event",
      eventId: event.id,
      duplicate: false,
      error: {
        code: "invalid_event",
        message: "The event does not match the event schema (2 violations)",
        details: expect.any(Array),
      },
    });
    expect(await quarantined("invalid_event")).toBe(before + 1);
    const row = await stored(outcome.quarantineId);
    expect(row).toMatchObject({
      reason: "invalid_event",
      transport: "push_wrapped",
      pubsubMessageId: envelope.message.messageId,
      subscription: envelope.subscription,
      eventId: event.id,
      bodyBytes: json(envelope).length,
    });
    expect(Buffer.from(row.body!).equals(json(envelope))).toBe(true);
    const line = h.logs.find((l) => l.quarantineId === outcome.quarantineId);
    expect(line).toMatchObject({
      severity: "WARNING",
      message: "Pub/Sub message quarantined: it can never be delivered",
      reason: "invalid_event",
      pubsubMessageId: envelope.message.messageId,
      subscription: envelope.subscription,
      eventId: event.id,
      duplicate: false,
      violations: 2,
    });
    expect(JSON.stringify(line)).not.toContain("jane.doe@example.com");

    // Pushed again: the same record, not counted twice.
    const again = (await accept({ body: json(envelope), fromPubsub: true })).outcome as QuarantineOutcome;
    expect(again).toMatchObject({ quarantineId: outcome.quarantineId, duplicate: true });
    expect(await quarantined("invalid_event")).toBe(before + 1);
  });

  it("quarantines a broken envelope with the metadata that was valid", async () => {
    const body = json({ message: { data: "%%%", messageId: "991" }, subscription: "projects/p/subscriptions/s" });
    const outcome = (await accept({ body, fromPubsub: true })).outcome as QuarantineOutcome;
    expect(outcome).toMatchObject({
      reason: "invalid_envelope",
      eventId: null,
      error: { details: [{ path: "/message/data", message: "is not valid base64" }] },
    });
    expect(await stored(outcome.quarantineId)).toMatchObject({
      transport: "push_wrapped",
      pubsubMessageId: "991",
      subscription: "projects/p/subscriptions/s",
    });
  });

  it("quarantines what a verified Pub/Sub caller posts without metadata, and refuses it to anyone else", async () => {
    const body = Buffer.from("not json");
    expect((await accept({ body, fromPubsub: true })).outcome).toMatchObject({
      status: "quarantined",
      reason: "invalid_json",
    });
    expect(await refusal({ body })).toMatchObject({ code: "invalid_json" });
  });

  it("records the event id only when it is one the ledger could store", async () => {
    const idOf = async (id: unknown) =>
      (
        (await accept({ body: json(wrapped({ ...makeEvent(), id, time: "bad" })), fromPubsub: true }))
          .outcome as QuarantineOutcome
      ).eventId;
    expect(await idOf("x".repeat(256))).toBe("x".repeat(256));
    expect(await idOf("x".repeat(257))).toBeNull();
    expect(await idOf("")).toBeNull();
    expect(await idOf("evt\u0000")).toBeNull();
    expect(await idOf("evt\ud800")).toBeNull();
    expect(await idOf(42)).toBeNull();
  });

  it("quarantines an id reused with another body, and leaves the delivered event alone", async () => {
    const event = makeEvent();
    await accept({ body: json(wrapped(event)), fromPubsub: true });
    await h.settle();
    const outcome = (await accept({ body: json(wrapped({ ...event, type: "user.updated" })), fromPubsub: true }))
      .outcome as QuarantineOutcome;
    expect(outcome).toMatchObject({ reason: "event_id_conflict", eventId: event.id });
    expect(h.emulator.state.allMessages()).toHaveLength(1);
  });

  it("never quarantines what may succeed later: a ledger failure goes back to Pub/Sub as an error", async () => {
    const spare = await startHarness({}, { emulator: h.emulator });
    try {
      await spare.container.db.close();
      await expect(
        spare.container.ingest.accept({ body: json(wrapped(makeEvent())), fromPubsub: true }),
      ).rejects.toMatchObject({ code: "database_unavailable" });
    } finally {
      await spare.close().catch(() => undefined);
    }
  });
});
