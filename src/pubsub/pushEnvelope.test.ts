import { describe, expect, it } from "vitest";
import { makeEvent, wrapped } from "../../test/helpers/events.ts";
import { decodeEnvelope, EnvelopeError, isEnvelope, unwrappedTransport } from "./pushEnvelope.ts";

const noHeaders = () => undefined;

function envelopeFailure(fn: () => unknown): EnvelopeError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(EnvelopeError);
    expect((error as EnvelopeError).code).toBe("invalid_envelope");
    return error as EnvelopeError;
  }
  throw new Error("expected an envelope error");
}

describe("isEnvelope", () => {
  it("tells an envelope from an event: an event has `object`, an envelope has `message` and no `object`", () => {
    expect(isEnvelope(wrapped(makeEvent()))).toBe(true);
    expect(isEnvelope(makeEvent())).toBe(false);
    expect(isEnvelope({ ...makeEvent(), message: "hello" })).toBe(false);
    expect(isEnvelope([{ message: {} }])).toBe(false);
    expect(isEnvelope(null)).toBe(false);
  });
});

describe("decodeEnvelope", () => {
  it("returns the data's bytes and Pub/Sub's metadata", () => {
    const event = makeEvent();
    const envelope = wrapped(event, { deliveryAttempt: 5 });
    const decoded = decodeEnvelope(envelope);
    expect(JSON.parse(decoded.data.toString("utf8"))).toEqual(event);
    expect(decoded.attributes).toEqual({ origin: "platform" });
    expect(decoded.transport).toEqual({
      kind: "push_wrapped",
      pubsubMessageId: envelope.message.messageId,
      subscription: envelope.subscription,
      deliveryAttempt: 5,
      publishTime: envelope.message.publishTime,
    });
  });

  it("accepts the snake_case message_id and publish_time Pub/Sub also sends", () => {
    const decoded = decodeEnvelope({ message: { data: "e30=", message_id: "77", publish_time: "2026-11-27T10:00:01Z" }, subscription: "projects/p/subscriptions/s" });
    expect(decoded.transport).toMatchObject({ pubsubMessageId: "77", publishTime: "2026-11-27T10:00:01Z" });
  });

  const sub = "projects/p/subscriptions/s";
  it.each([
    [{ message: null }, "/message"],
    [{ message: { data: 5 } }, "/message/data"],
    [{ message: { data: "" } }, "/message/data"],
    [{ message: { data: "not base64!" } }, "/message/data"],
    [{ message: { data: "e30=", messageId: 5 } }, "/message/messageId"],
    [{ message: { data: "e30=", messageId: "1".repeat(129) } }, "/message/messageId"],
    [{ message: { data: "e30=", messageId: "a\u0000b" } }, "/message/messageId"],
    [{ message: { data: "e30=", messageId: "\ud800" } }, "/message/messageId"],
    [{ message: { data: "e30=" }, subscription: 1 }, "/subscription"],
    [{ message: { data: "e30=" }, subscription: "relay-push" }, "/subscription"],
    [{ message: { data: "e30=" }, subscription: `projects/p/subscriptions/${"s".repeat(250)}` }, "/subscription"],
    [{ message: { data: "e30=", publishTime: "yesterday" }, subscription: sub }, "/message/publishTime"],
    [{ message: { data: "e30=", attributes: [] }, subscription: sub }, "/message/attributes"],
    [{ message: { data: "e30=", attributes: { a: 1 } }, subscription: sub }, "/message/attributes/a"],
    [{ message: { data: "e30=", attributes: { a: "x".repeat(1025) } }, subscription: sub }, "/message/attributes/a"],
    [{ message: { data: "e30=", attributes: { ["k".repeat(257)]: "v" } }, subscription: sub }, `/message/attributes/${"k".repeat(257)}`],
    [{ message: { data: "e30=", attributes: Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`k${i}`, "v"])) }, subscription: sub }, "/message/attributes"],
    [{ message: { data: "e30=" }, deliveryAttempt: 1.5 }, "/deliveryAttempt"],
    [{ message: { data: "e30=" }, deliveryAttempt: -1 }, "/deliveryAttempt"],
    [{ message: { data: "e30=" }, deliveryAttempt: 2 ** 31 }, "/deliveryAttempt"],
  ])("refuses a broken envelope %j at %s", (body, path) => {
    const error = envelopeFailure(() => decodeEnvelope(body as Record<string, unknown>));
    expect(error.details.map((d) => d.path)).toContain(path);
  });

  it("keeps the valid fields of a broken envelope, for the quarantine", () => {
    const error = envelopeFailure(() => decodeEnvelope({ message: { data: "***", messageId: "42" }, subscription: "projects/p/subscriptions/s" }));
    expect(error.transport).toMatchObject({ kind: "push_wrapped", pubsubMessageId: "42", subscription: "projects/p/subscriptions/s" });
  });

  it("accepts Pub/Sub's own limits exactly", () => {
    const attributes = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`${"k".repeat(250)}${i}`.slice(0, 256), "v".repeat(1024)]));
    const decoded = decodeEnvelope({ message: { data: "e30=", messageId: "9".repeat(128), attributes }, subscription: `projects/p/subscriptions/${"s".repeat(255 - 25)}` });
    expect(decoded.transport.pubsubMessageId).toHaveLength(128);
  });
});

describe("unwrappedTransport", () => {
  it("is undefined for a direct post (no Pub/Sub headers)", () => {
    expect(unwrappedTransport(noHeaders)).toBeUndefined();
  });

  it("reads Pub/Sub's metadata from its headers", () => {
    const headers: Record<string, string> = {
      "x-goog-pubsub-message-id": "9",
      "x-goog-pubsub-subscription-name": "projects/p/subscriptions/s",
      "x-goog-pubsub-publish-time": "2026-11-27T10:00:01.123Z",
    };
    expect(unwrappedTransport((n) => headers[n])).toEqual({
      kind: "push_unwrapped",
      pubsubMessageId: "9",
      subscription: "projects/p/subscriptions/s",
      publishTime: "2026-11-27T10:00:01.123Z",
    });
  });

  it("refuses headers beyond Pub/Sub's limits", () => {
    const headers: Record<string, string> = { "x-goog-pubsub-message-id": "1".repeat(200), "x-goog-pubsub-subscription-name": "nope" };
    const error = envelopeFailure(() => unwrappedTransport((n) => headers[n]));
    expect(error.details.map((d) => d.path).sort()).toEqual(["x-goog-pubsub-message-id", "x-goog-pubsub-subscription-name"]);
  });
});
