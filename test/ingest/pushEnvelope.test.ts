import { describe, expect, it } from "vitest";
import { makeEvent, wrapped } from "../helpers/events.ts";
import { decodeEnvelope, EnvelopeError, isEnvelope, unwrappedTransport } from "../../src/ingest/pushEnvelope.ts";

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
    const decoded = decodeEnvelope({
      message: { data: "e30=", message_id: "77", publish_time: "2026-11-27T10:00:01Z" },
      subscription: "projects/p/subscriptions/s",
    });
    expect(decoded.transport).toMatchObject({ pubsubMessageId: "77", publishTime: "2026-11-27T10:00:01Z" });
  });

  const sub = "projects/p/subscriptions/s";
  const subscriptionShape = "must look like projects/<project>/subscriptions/<subscription>";
  const unstorable = "must not contain NUL (\\u0000) or unpaired UTF-16 surrogates";
  it.each([
    [{ message: null }, "/message", "must be an object"],
    [{ message: { data: 5 } }, "/message/data", "must be a non-empty base64 string holding the event"],
    [{ message: { data: "" } }, "/message/data", "must be a non-empty base64 string holding the event"],
    [{ message: { data: "not base64!" } }, "/message/data", "is not valid base64"],
    [{ message: { data: "e30" } }, "/message/data", "is not valid base64"],
    [{ message: { data: "e3 0=" } }, "/message/data", "is not valid base64"],
    [{ message: { data: "e30=\n" } }, "/message/data", "is not valid base64"],
    [{ message: { data: "-_8=" } }, "/message/data", "is not valid base64"],
    [{ message: { data: "e30==" } }, "/message/data", "is not valid base64"],
    [{ message: { data: "e=30" } }, "/message/data", "is not valid base64"],
    [{ message: { data: "e30=", messageId: 5 } }, "/message/messageId", "must be a string"],
    [{ message: { data: "e30=", messageId: "" } }, "/message/messageId", "must be 1 to 128 characters"],
    [{ message: { data: "e30=", messageId: "1".repeat(129) } }, "/message/messageId", "must be 1 to 128 characters"],
    [{ message: { data: "e30=", messageId: "a\u0000b" } }, "/message/messageId", unstorable],
    [{ message: { data: "e30=", messageId: "\ud800" } }, "/message/messageId", unstorable],
    [{ message: { data: "e30=", message_id: 77 } }, "/message/message_id", "must be a string"],
    [{ message: { data: "e30=" }, subscription: 1 }, "/subscription", "must be a string"],
    [{ message: { data: "e30=" }, subscription: "relay-push" }, "/subscription", subscriptionShape],
    [
      { message: { data: "e30=" }, subscription: `projects/p/subscriptions/${"s".repeat(250)}` },
      "/subscription",
      "must be 1 to 255 characters",
    ],
    [
      { message: { data: "e30=", publishTime: "yesterday" }, subscription: sub },
      "/message/publishTime",
      "must be an RFC 3339 timestamp",
    ],
    [
      { message: { data: "e30=", attributes: [] }, subscription: sub },
      "/message/attributes",
      "must be an object of strings",
    ],
    [
      { message: { data: "e30=", attributes: { a: 1 } }, subscription: sub },
      "/message/attributes/a",
      "must be a string",
    ],
    [
      { message: { data: "e30=", attributes: { a: "x".repeat(1025) } }, subscription: sub },
      "/message/attributes/a",
      "must be at most 1024 bytes",
    ],
    [
      { message: { data: "e30=", attributes: { ["k".repeat(257)]: "v" } }, subscription: sub },
      `/message/attributes/${"k".repeat(200 - "/message/attributes/".length - 6)}…(cut)`,
      "key must be at most 256 bytes",
    ],
    [
      {
        message: {
          data: "e30=",
          attributes: Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`k${i}`, "v"])),
        },
        subscription: sub,
      },
      "/message/attributes",
      "must have at most 100 attributes",
    ],
    [
      { message: { data: "e30=" }, deliveryAttempt: 1.5 },
      "/deliveryAttempt",
      "must be an integer from 0 to 2147483647",
    ],
    [{ message: { data: "e30=" }, deliveryAttempt: -1 }, "/deliveryAttempt", "must be an integer from 0 to 2147483647"],
    [
      { message: { data: "e30=" }, deliveryAttempt: 2 ** 31 },
      "/deliveryAttempt",
      "must be an integer from 0 to 2147483647",
    ],
  ])("refuses a broken envelope %j at %s: %s", (body, path, message) => {
    const error = envelopeFailure(() => decodeEnvelope(body as Record<string, unknown>));
    expect(error.message).toBe("The Pub/Sub push envelope is malformed");
    expect(error.details).toEqual([{ path, message }]);
  });

  it("accepts an envelope with only data: Pub/Sub's metadata is optional, and null attributes are none", () => {
    expect(decodeEnvelope({ message: { data: "e30=" } })).toEqual({
      data: Buffer.from("{}"),
      transport: {
        kind: "push_wrapped",
        pubsubMessageId: undefined,
        subscription: undefined,
        deliveryAttempt: undefined,
        publishTime: undefined,
      },
      attributes: {},
    });
    expect(decodeEnvelope({ message: { data: "e30=", attributes: null } }).attributes).toEqual({});
  });

  it("accepts deliveryAttempt from 0 to 2147483647, the ledger's 32-bit column", () => {
    expect(decodeEnvelope({ message: { data: "e30=" }, deliveryAttempt: 0 }).transport.deliveryAttempt).toBe(0);
    expect(
      decodeEnvelope({ message: { data: "e30=" }, deliveryAttempt: 2_147_483_647 }).transport.deliveryAttempt,
    ).toBe(2_147_483_647);
  });

  it("accepts a publishTime of 64 characters and refuses one of 65", () => {
    const time = (length: number) => `2026-11-27T10:00:01.${"1".repeat(length - 21)}Z`;
    expect(time(64)).toHaveLength(64);
    expect(decodeEnvelope({ message: { data: "e30=", publishTime: time(64) } }).transport.publishTime).toBe(time(64));
    const error = envelopeFailure(() => decodeEnvelope({ message: { data: "e30=", publishTime: time(65) } }));
    expect(error.details).toEqual([{ path: "/message/publishTime", message: "must be an RFC 3339 timestamp" }]);
  });

  it("counts an attribute key's limit in UTF-8 bytes: 256 bytes accepted, 257 refused", () => {
    const key256 = "é".repeat(128);
    expect(decodeEnvelope({ message: { data: "e30=", attributes: { [key256]: "v" } } }).attributes).toEqual({
      [key256]: "v",
    });
    const key257 = `${key256}k`;
    const error = envelopeFailure(() => decodeEnvelope({ message: { data: "e30=", attributes: { [key257]: "v" } } }));
    expect(error.details).toEqual([
      { path: `/message/attributes/${key257}`, message: "key must be at most 256 bytes" },
    ]);
  });

  it("escapes an attribute key in its JSON-pointer path (~ as ~0, / as ~1), and cuts a huge key's path to 200 characters, marked", () => {
    const error = envelopeFailure(() =>
      decodeEnvelope({ message: { data: "e30=", attributes: { "a/b~c": 1, ["k".repeat(400)]: "v" } } }),
    );
    expect(error.details).toEqual([
      { path: "/message/attributes/a~1b~0c", message: "must be a string" },
      {
        path: `/message/attributes/${"k".repeat(200 - "/message/attributes/".length - 6)}…(cut)`,
        message: "key must be at most 256 bytes",
      },
    ]);
  });

  it("keeps the valid fields of a broken envelope, for the quarantine", () => {
    const error = envelopeFailure(() =>
      decodeEnvelope({ message: { data: "***", messageId: "42" }, subscription: "projects/p/subscriptions/s" }),
    );
    expect(error.transport).toMatchObject({
      kind: "push_wrapped",
      pubsubMessageId: "42",
      subscription: "projects/p/subscriptions/s",
    });
  });

  it("accepts Pub/Sub's own limits exactly", () => {
    const attributes = Object.fromEntries(
      Array.from({ length: 100 }, (_, i) => [`${"k".repeat(250)}${i}`.slice(0, 256), "v".repeat(1024)]),
    );
    const decoded = decodeEnvelope({
      message: { data: "e30=", messageId: "9".repeat(128), attributes },
      subscription: `projects/p/subscriptions/${"s".repeat(255 - 25)}`,
    });
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
    const headers: Record<string, string> = {
      "x-goog-pubsub-message-id": "1".repeat(200),
      "x-goog-pubsub-subscription-name": "nope",
    };
    const error = envelopeFailure(() => unwrappedTransport((n) => headers[n]));
    expect(error.details.map((d) => d.path).sort()).toEqual([
      "x-goog-pubsub-message-id",
      "x-goog-pubsub-subscription-name",
    ]);
  });

  it("names the header of an unreadable publish time", () => {
    const headers: Record<string, string> = {
      "x-goog-pubsub-message-id": "9",
      "x-goog-pubsub-publish-time": "yesterday",
    };
    const error = envelopeFailure(() => unwrappedTransport((n) => headers[n]));
    expect(error.details).toEqual([{ path: "x-goog-pubsub-publish-time", message: "must be an RFC 3339 timestamp" }]);
    expect(error.transport).toEqual({
      kind: "push_unwrapped",
      pubsubMessageId: "9",
      subscription: undefined,
      publishTime: undefined,
    });
  });
});
