import { AppError, type ErrorDetail } from "../errors.ts";
import type { Transport } from "../core/transport.ts";

/**
 * Bounds on what Pub/Sub may send, from its documented limits: a message id is a decimal string
 * (we allow 128 characters), a subscription name at most 255 characters, at most 100 attributes
 * with keys of 256 and values of 1024 bytes. Anything beyond is not Pub/Sub, and is refused
 * before it reaches the ledger.
 */
export const ENVELOPE_LIMITS = {
  messageIdChars: 128,
  subscriptionChars: 255,
  attributes: 100,
  attributeKeyBytes: 256,
  attributeValueBytes: 1024,
} as const;

const SUBSCRIPTION = /^projects\/[^/]+\/subscriptions\/[^/]+$/;
// NUL and unpaired surrogates: valid in JSON strings, but PostgreSQL cannot store them in text.
// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is the one character PostgreSQL text cannot hold
const UNSTORABLE = /[\u0000\ud800-\udfff]/u;
// Pub/Sub counts to 100 at most; the ledger's column is a 32-bit integer.
const MAX_DELIVERY_ATTEMPT = 2_147_483_647;

export interface DecodedEnvelope {
  /** The message data as bytes: the event's JSON text. */
  data: Buffer;
  transport: Transport;
  attributes: Record<string, string>;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** An event always has `object`, an envelope never does: a body with `message` and without `object` is an envelope. */
export function isEnvelope(body: unknown): body is Record<string, unknown> {
  return isObject(body) && "message" in body && !("object" in body);
}

function checkText(
  details: ErrorDetail[],
  path: string,
  value: unknown,
  maxChars: number,
  pattern?: RegExp,
): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string") details.push({ path, message: "must be a string" });
  else if (value.length === 0 || value.length > maxChars)
    details.push({ path, message: `must be 1 to ${maxChars} characters` });
  else if (UNSTORABLE.test(value))
    details.push({ path, message: "must not contain NUL (\\u0000) or unpaired UTF-16 surrogates" });
  else if (pattern && !pattern.test(value))
    details.push({ path, message: `must look like projects/<project>/subscriptions/<subscription>` });
  else return value;
  return undefined;
}

function checkPublishTime(details: ErrorDetail[], path: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value.length > 64 || Number.isNaN(Date.parse(value))) {
    details.push({ path, message: "must be an RFC 3339 timestamp" });
    return undefined;
  }
  return value;
}

function checkAttributes(details: ErrorDetail[], value: unknown): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (!isObject(value)) {
    details.push({ path: "/message/attributes", message: "must be an object of strings" });
    return {};
  }
  const entries = Object.entries(value);
  if (entries.length > ENVELOPE_LIMITS.attributes) {
    details.push({
      path: "/message/attributes",
      message: `must have at most ${ENVELOPE_LIMITS.attributes} attributes`,
    });
    return {};
  }
  for (const [key, v] of entries) {
    const path = `/message/attributes/${key.slice(0, 256).replaceAll("~", "~0").replaceAll("/", "~1")}`;
    if (Buffer.byteLength(key) > ENVELOPE_LIMITS.attributeKeyBytes)
      details.push({ path, message: `key must be at most ${ENVELOPE_LIMITS.attributeKeyBytes} bytes` });
    else if (typeof v !== "string") details.push({ path, message: "must be a string" });
    else if (Buffer.byteLength(v) > ENVELOPE_LIMITS.attributeValueBytes)
      details.push({ path, message: `must be at most ${ENVELOPE_LIMITS.attributeValueBytes} bytes` });
  }
  return value as Record<string, string>;
}

/** A wrapped push: `{ message: { data: base64, messageId, publishTime, attributes }, subscription, deliveryAttempt }`. */
export function decodeEnvelope(envelope: Record<string, unknown>): DecodedEnvelope {
  const details: ErrorDetail[] = [];
  const message = envelope.message;
  if (!isObject(message)) throw envelopeError([{ path: "/message", message: "must be an object" }]);
  const { data } = message;
  if (typeof data !== "string" || data.length === 0) {
    details.push({ path: "/message/data", message: "must be a non-empty base64 string holding the event" });
  }
  // Decoded once, here, with Buffer (no regular expression: one over a 1.5 MB string blocked the
  // event loop for ~160 ms). Valid base64 re-encodes to exactly what was sent; anything else
  // (characters outside the alphabet, whitespace, missing or misplaced padding) does not.
  const decoded = typeof data === "string" && data.length > 0 ? Buffer.from(data, "base64") : undefined;
  if (decoded && decoded.toString("base64") !== data) {
    details.push({ path: "/message/data", message: "is not valid base64" });
  }
  const idPath = message.messageId !== undefined ? "/message/messageId" : "/message/message_id";
  const messageId = checkText(details, idPath, message.messageId ?? message.message_id, ENVELOPE_LIMITS.messageIdChars);
  const subscription = checkText(
    details,
    "/subscription",
    envelope.subscription,
    ENVELOPE_LIMITS.subscriptionChars,
    SUBSCRIPTION,
  );
  const publishTime = checkPublishTime(details, "/message/publishTime", message.publishTime ?? message.publish_time);
  const attributes = checkAttributes(details, message.attributes);
  const attempt = envelope.deliveryAttempt;
  if (
    attempt !== undefined &&
    !(Number.isInteger(attempt) && (attempt as number) >= 0 && (attempt as number) <= MAX_DELIVERY_ATTEMPT)
  ) {
    details.push({ path: "/deliveryAttempt", message: `must be an integer from 0 to ${MAX_DELIVERY_ATTEMPT}` });
  }
  const transport: Transport = {
    kind: "push_wrapped",
    pubsubMessageId: messageId,
    subscription,
    deliveryAttempt: attempt as number | undefined,
    publishTime,
  };
  if (details.length > 0) throw envelopeError(details, transport);
  return { data: decoded!, transport, attributes };
}

/**
 * An unwrapped push (`noWrapper` with `writeMetadata`): the event is the body, and Pub/Sub's
 * metadata arrives as x-goog-pubsub-* headers. Undefined when the headers are absent (a direct post).
 */
export function unwrappedTransport(header: (name: string) => string | undefined): Transport | undefined {
  const messageId = header("x-goog-pubsub-message-id");
  if (messageId === undefined) return undefined;
  const details: ErrorDetail[] = [];
  const transport: Transport = {
    kind: "push_unwrapped",
    pubsubMessageId: checkText(details, "x-goog-pubsub-message-id", messageId, ENVELOPE_LIMITS.messageIdChars),
    subscription: checkText(
      details,
      "x-goog-pubsub-subscription-name",
      header("x-goog-pubsub-subscription-name"),
      ENVELOPE_LIMITS.subscriptionChars,
      SUBSCRIPTION,
    ),
    publishTime: checkPublishTime(details, "x-goog-pubsub-publish-time", header("x-goog-pubsub-publish-time")),
  };
  if (details.length > 0) throw envelopeError(details, transport);
  return transport;
}

/** The envelope's error; `transport` keeps the fields that were valid, for the quarantine. */
export class EnvelopeError extends AppError {
  readonly transport: Transport | undefined;

  constructor(details: ErrorDetail[], transport?: Transport) {
    super("invalid_envelope", "The Pub/Sub push envelope is malformed", { details });
    this.transport = transport;
  }
}

function envelopeError(details: ErrorDetail[], transport?: Transport): EnvelopeError {
  return new EnvelopeError(details, transport);
}
