import { AppError, type ErrorDetail } from "../errors.ts";
import type { Transport } from "../notifications/transport.ts";

/** A request body as it arrived, after JSON parsing, with the headers needed to place it. */
export interface IncomingBody {
  body: unknown;
  header(name: string): string | undefined;
}

export interface DecodedBody {
  /** The event candidate: not yet validated against the schema. */
  event: unknown;
  transport: Transport;
}

// Pub/Sub counts to 100 at most; the ledger's column is a 32-bit integer.
const MAX_DELIVERY_ATTEMPT = 2_147_483_647;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Tells the three ingress forms apart and unwraps the event:
 * - a wrapped Pub/Sub push: `{ message: { data: base64, messageId, … }, subscription }`;
 * - an unwrapped Pub/Sub push: the event as the body, with `x-goog-pubsub-*` headers;
 * - a direct post: the event as the body.
 * An event always has `object`, an envelope never does, so a body with `message` and without
 * `object` is read as an envelope.
 */
export function decodeBody({ body, header }: IncomingBody): DecodedBody {
  if (isObject(body) && "message" in body && !("object" in body)) return decodeWrapped(body);
  const messageId = header("x-goog-pubsub-message-id");
  if (messageId !== undefined) {
    return {
      event: body,
      transport: {
        kind: "push_unwrapped",
        pubsubMessageId: messageId,
        subscription: header("x-goog-pubsub-subscription-name"),
        publishTime: header("x-goog-pubsub-publish-time"),
      },
    };
  }
  return { event: body, transport: { kind: "body" } };
}

function decodeWrapped(envelope: Record<string, unknown>): DecodedBody {
  const details: ErrorDetail[] = [];
  const message = envelope.message;
  if (!isObject(message)) {
    throw envelopeError([{ path: "/message", message: "must be an object" }]);
  }
  const { data, messageId, message_id: messageIdSnake, publishTime } = message;
  if (typeof data !== "string" || data.length === 0) {
    details.push({ path: "/message/data", message: "must be a non-empty base64 string holding the event" });
  } else if (!BASE64.test(data)) {
    details.push({ path: "/message/data", message: "is not valid base64" });
  }
  const id = messageId ?? messageIdSnake;
  if (id !== undefined && typeof id !== "string") details.push({ path: "/message/messageId", message: "must be a string" });
  if (envelope.subscription !== undefined && typeof envelope.subscription !== "string") {
    details.push({ path: "/subscription", message: "must be a string" });
  }
  const attempt = envelope.deliveryAttempt;
  if (attempt !== undefined && !(Number.isInteger(attempt) && (attempt as number) >= 0 && (attempt as number) <= MAX_DELIVERY_ATTEMPT)) {
    details.push({ path: "/deliveryAttempt", message: `must be an integer from 0 to ${MAX_DELIVERY_ATTEMPT}` });
  }
  if (details.length > 0) throw envelopeError(details);

  const text = Buffer.from(data as string, "base64").toString("utf8");
  let event: unknown;
  try {
    event = JSON.parse(text);
  } catch {
    throw envelopeError([{ path: "/message/data", message: "does not decode to JSON" }]);
  }
  return {
    event,
    transport: {
      kind: "push_wrapped",
      pubsubMessageId: id as string | undefined,
      subscription: envelope.subscription as string | undefined,
      deliveryAttempt: attempt as number | undefined,
      publishTime: typeof publishTime === "string" ? publishTime : undefined,
    },
  };
}

function envelopeError(details: ErrorDetail[]): AppError {
  return new AppError("invalid_envelope", "The Pub/Sub push envelope is malformed", { details });
}
