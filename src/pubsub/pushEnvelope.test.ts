import { describe, expect, it } from "vitest";
import { AppError } from "../errors.ts";
import { makeEvent, wrapped } from "../../test/helpers/events.ts";
import { decodeBody } from "./pushEnvelope.ts";

const noHeaders = () => undefined;

describe("decodeBody", () => {
  it("reads a direct post as the event", () => {
    const event = makeEvent();
    expect(decodeBody({ body: event, header: noHeaders })).toEqual({ event, transport: { kind: "body" } });
  });

  it("unwraps a push envelope and keeps its metadata", () => {
    const event = makeEvent();
    const envelope = wrapped(event, { deliveryAttempt: 5 });
    const decoded = decodeBody({ body: envelope, header: noHeaders });
    expect(decoded.event).toEqual(event);
    expect(decoded.transport).toEqual({
      kind: "push_wrapped",
      pubsubMessageId: envelope.message.messageId,
      subscription: envelope.subscription,
      deliveryAttempt: 5,
      publishTime: envelope.message.publishTime,
    });
  });

  it("accepts the snake_case message_id Pub/Sub also sends", () => {
    const body = { message: { data: Buffer.from("{}").toString("base64"), message_id: "77" }, subscription: "s" };
    expect(decodeBody({ body, header: noHeaders }).transport.pubsubMessageId).toBe("77");
  });

  it("recognises an unwrapped push by its headers", () => {
    const headers: Record<string, string> = { "x-goog-pubsub-message-id": "9", "x-goog-pubsub-subscription-name": "projects/p/subscriptions/s" };
    const decoded = decodeBody({ body: makeEvent(), header: (n) => headers[n] });
    expect(decoded.transport).toMatchObject({ kind: "push_unwrapped", pubsubMessageId: "9", subscription: "projects/p/subscriptions/s" });
  });

  it("treats an event that happens to have a message field as an event", () => {
    const event = { ...makeEvent(), message: "hello" };
    expect(decodeBody({ body: event, header: noHeaders }).transport.kind).toBe("body");
  });

  it.each([
    [{ message: null }, "/message"],
    [{ message: { data: 5 } }, "/message/data"],
    [{ message: { data: "" } }, "/message/data"],
    [{ message: { data: "not base64!" } }, "/message/data"],
    [{ message: { data: Buffer.from("{").toString("base64") } }, "/message/data"],
    [{ message: { data: "e30=", messageId: 5 } }, "/message/messageId"],
    [{ message: { data: "e30=" }, subscription: 1 }, "/subscription"],
    [{ message: { data: "e30=" }, deliveryAttempt: 1.5 }, "/deliveryAttempt"],
  ])("rejects a broken envelope %j at %s", (body, path) => {
    try {
      decodeBody({ body, header: noHeaders });
      expect.unreachable();
    } catch (error) {
      expect((error as AppError).code).toBe("invalid_envelope");
      expect((error as AppError).details.map((d) => d.path)).toContain(path);
    }
  });
});
