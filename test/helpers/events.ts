import { randomUUID } from "node:crypto";
import type { PlatformEvent } from "../../src/core/event.ts";

/** A valid platform event with a fresh id; fields can be overridden. */
export function makeEvent(overrides: Partial<PlatformEvent> = {}): PlatformEvent {
  return {
    object: "event",
    id: `evt_${randomUUID().replaceAll("-", "")}`,
    data: { object: "user", id: "usr_1", email: "jane.doe@example.com", phoneNumber: "+15555550100" },
    datacontenttype: "application/json",
    project: "acme-mobile",
    source: "https://api.gigs.com",
    specversion: "1.0",
    time: "2026-11-27T10:00:00Z",
    type: "user.created",
    version: "2023-01-30",
    ...overrides,
  };
}

/** The Pub/Sub push envelope (wrapped form) around an event. */
export function wrapped(event: unknown, extra: Record<string, unknown> = {}) {
  return {
    message: {
      data: Buffer.from(JSON.stringify(event)).toString("base64"),
      attributes: { origin: "platform" },
      messageId: `${Math.floor(Math.random() * 1e12)}`,
      publishTime: "2026-11-27T10:00:01Z",
    },
    subscription: "projects/gigs-prod/subscriptions/relay-push",
    ...extra,
  };
}

/** Headers Pub/Sub sends with an unwrapped push that writes metadata. */
export function unwrappedHeaders(messageId = `${Math.floor(Math.random() * 1e12)}`) {
  return {
    "x-goog-pubsub-message-id": messageId,
    "x-goog-pubsub-subscription-name": "projects/gigs-prod/subscriptions/relay-push-unwrapped",
    "x-goog-pubsub-publish-time": "2026-11-27T10:00:01Z",
  };
}
