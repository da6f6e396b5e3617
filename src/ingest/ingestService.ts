import type { Logger } from "pino";
import { AppError, isAppError, type ErrorCode } from "../errors.ts";
import type { Metrics } from "../observability/metrics.ts";
import { decodeEnvelope, EnvelopeError, isEnvelope, unwrappedTransport } from "./pushEnvelope.ts";
import { MAX_EVENT_DEPTH, parseEvent } from "./eventSchema.ts";
import { callerContext, inSpan, SpanKind } from "../observability/tracing.ts";
import type { PlatformEvent } from "../core/event.ts";
import type { NotificationService } from "../core/notificationService.ts";
import type { RelayOutcome } from "../core/relayOutcome.ts";
import type { QuarantineLedger, QuarantineReason } from "../core/ports/quarantine.ts";
import { readJson } from "./strictJson.ts";
import { isPubsub, type Transport } from "../core/transport.ts";

/** Svix's limit on a message payload: an event larger than this can never be delivered. */
export const MAX_EVENT_BYTES = 1024 * 1024;

export interface IngestServiceOptions {
  service: NotificationService;
  quarantine: QuarantineLedger;
  logger: Logger;
  metrics: Metrics;
  /** Most values (objects, arrays, scalars) one event may hold: bounds the memory a body can cost. */
  maxEventValues: number;
}

export interface IngestRequest {
  /** The HTTP body, or the pulled message's data, exactly as received. */
  body: Buffer;
  /** HTTP headers (the x-goog-pubsub-* of an unwrapped push); the pull worker has none. */
  header?: (name: string) => string | undefined;
  /** The caller proved to be Pub/Sub (its OIDC token): its messages are quarantined, not refused. */
  fromPubsub?: boolean;
  /** The pull worker's message: its metadata; the body is the event. */
  pulled?: Transport;
  /** The pulled message's attributes (its publisher's trace context among them). */
  attributes?: Record<string, string>;
  /** An internal caller asked for the answer on commit (Prefer: respond-async); Pub/Sub always gets it. */
  respondAsync?: boolean;
}

export interface QuarantineOutcome {
  status: "quarantined";
  quarantineId: string;
  reason: QuarantineReason;
  eventId: string | null;
  /** True when this message was quarantined before (Pub/Sub pushed it again). */
  duplicate: boolean;
  error: { code: string; message: string; details: AppError["details"] };
}

export interface IngestResult {
  transport: Transport;
  outcome: RelayOutcome | QuarantineOutcome;
}

const QUARANTINABLE: ReadonlySet<ErrorCode> = new Set<QuarantineReason>([
  "invalid_json",
  "invalid_envelope",
  "invalid_event",
  "event_id_conflict",
  "payload_too_large",
  "undeclared_event_type",
]);
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * One path for every way an event arrives — direct post, wrapped or unwrapped Pub/Sub push, pull
 * worker: decode, read the JSON strictly (bounded, unchanged), validate against the schema, relay.
 * What can never be delivered is refused to internal callers (400/413/422) and quarantined for
 * Pub/Sub, which would otherwise push it again and again: the quarantine keeps it for operators
 * and the message is acknowledged.
 */
export class IngestService {
  private readonly options: IngestServiceOptions;

  constructor(options: IngestServiceOptions) {
    this.options = options;
  }

  async accept(request: IngestRequest): Promise<IngestResult> {
    const header = request.header ?? (() => undefined);
    let transport: Transport = request.pulled ?? { kind: "body" };
    let attributes: Record<string, string> = request.attributes ?? {};
    let eventId: string | undefined;
    let event: PlatformEvent | undefined;
    let refusal: unknown;
    try {
      if (!request.pulled) transport = unwrappedTransport(header) ?? transport;
      let value = this.read(request.body, "body");
      let eventBytes = request.body.length;
      if (!request.pulled && isEnvelope(value)) {
        const decoded = decodeEnvelope(value);
        transport = decoded.transport;
        attributes = decoded.attributes;
        value = this.read(decoded.data, "event");
        eventBytes = decoded.data.length;
      }
      eventId = readableId(value);
      if (eventBytes > MAX_EVENT_BYTES) {
        throw new AppError(
          "payload_too_large",
          `The event is ${eventBytes} bytes; Svix takes at most ${MAX_EVENT_BYTES}`,
        );
      }
      event = parseEvent(value);
    } catch (error) {
      if (error instanceof EnvelopeError && error.transport) transport = error.transport;
      refusal = error;
    }
    // The ingest span continues the caller's trace: the publisher's (Pub/Sub's attributes, or the
    // headers an unwrapped push makes of them) or a direct caller's traceparent.
    const parent = callerContext((name) => attributes[name] ?? header(name));
    const pulled = transport.kind === "pull";
    const spanName = pulled
      ? `process ${transport.subscription?.split("/").pop() ?? "subscription"}`
      : "POST /notifications";
    return inSpan(
      spanName,
      { kind: pulled ? SpanKind.CONSUMER : SpanKind.SERVER, attributes: spanAttributes(transport, event, eventId) },
      parent,
      async (span) => {
        try {
          if (refusal !== undefined) throw refusal;
          // Pub/Sub needs no more than the ledger's word (and its answer fast): answered on commit,
          // never kept waiting for a concurrent delivery. An internal caller may ask for the same.
          const outcome = await this.options.service.relay(
            event!,
            transport,
            isPubsub(transport)
              ? { waitMs: 0, respond: "on_commit" }
              : { respond: request.respondAsync ? "on_commit" : "on_delivery" },
          );
          span.setAttribute("gigs.relay.outcome", outcome.status);
          return { transport, outcome };
        } catch (error) {
          const fromPubsub = isPubsub(transport) || request.fromPubsub === true;
          if (!fromPubsub || !isAppError(error) || !QUARANTINABLE.has(error.code)) throw error;
          span.setAttribute("gigs.relay.outcome", "quarantined");
          return { transport, outcome: await this.quarantine(error, transport, request.body, eventId) };
        }
      },
    );
  }

  /** UTF-8 (strictly), then JSON checked for exactness and size before it is built. */
  private read(bytes: Buffer, what: "body" | "event"): unknown {
    let text: string;
    try {
      text = utf8.decode(bytes);
    } catch {
      throw new AppError("invalid_json", `The ${what} is not valid UTF-8`);
    }
    const result = readJson(text, { maxDepth: MAX_EVENT_DEPTH, maxValues: this.options.maxEventValues });
    if (result.ok) return result.value;
    const details = result.problems;
    if (result.kind === "syntax") throw new AppError("invalid_json", `The ${what} is not valid JSON`, { details });
    if (result.kind === "too_complex") throw new AppError("invalid_json", `The ${what} is too complex`, { details });
    // Valid JSON that would not arrive unchanged: name where, so the sender can fix it.
    const code = what === "body" && isEnvelope(safeParse(text)) ? "invalid_envelope" : "invalid_event";
    throw new AppError(code, `The ${what} cannot be relayed unchanged`, { details });
  }

  private async quarantine(
    error: AppError,
    transport: Transport,
    body: Buffer,
    eventId: string | undefined,
  ): Promise<QuarantineOutcome> {
    const reason = error.code as QuarantineReason;
    const { id, duplicate } = await this.options.quarantine.add({
      reason,
      message: error.message,
      details: error.details,
      transport,
      eventId,
      body,
    });
    if (!duplicate) this.options.metrics.quarantined.inc({ reason });
    this.options.logger.warn(
      {
        reason,
        quarantineId: id,
        pubsubMessageId: transport.pubsubMessageId,
        subscription: transport.subscription,
        eventId,
        duplicate,
        violations: error.details.length,
      },
      "Pub/Sub message quarantined: it can never be delivered",
    );
    return {
      status: "quarantined",
      quarantineId: id,
      reason,
      eventId: eventId ?? null,
      duplicate,
      error: { code: error.code, message: error.message, details: error.details },
    };
  }
}

/** The ingest span's attributes, after the messaging and HTTP semantic conventions (no payload). */
function spanAttributes(transport: Transport, event: PlatformEvent | undefined, eventId: string | undefined) {
  const pubsub = isPubsub(transport);
  return {
    "messaging.system": pubsub ? "gcp_pubsub" : undefined,
    "messaging.operation.type": pubsub ? "process" : undefined,
    "messaging.destination.subscription.name": transport.subscription,
    "messaging.message.id": transport.pubsubMessageId,
    "http.request.method": transport.kind === "pull" ? undefined : "POST",
    "url.path": transport.kind === "pull" ? undefined : "/notifications",
    "gigs.event.id": event?.id ?? eventId,
    "gigs.event.type": event?.type,
    "gigs.project": event?.project,
    "gigs.transport": transport.kind,
  };
}

/** The event id, when the value has one worth recording (bounded and storable). */
function readableId(value: unknown): string | undefined {
  const id = (value as { id?: unknown } | null)?.id;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is the one character PostgreSQL text cannot hold
  return typeof id === "string" && id.length > 0 && id.length <= 256 && !/[\u0000\ud800-\udfff]/u.test(id)
    ? id
    : undefined;
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
