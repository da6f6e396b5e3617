import type { Logger } from "pino";
import type { Metrics } from "../observability/metrics.ts";
import type { Clock } from "./ports/clock.ts";
import type { DeliveryEvent, DeliveryEventLedger } from "./ports/deliveryEvents.ts";

/** The operational webhooks the relay keeps; Svix sends others (e.g. background tasks) too. */
export const DELIVERY_EVENT_TYPES: ReadonlySet<string> = new Set([
  "message.attempt.exhausted",
  "message.attempt.failing",
  "message.attempt.recovered",
  "endpoint.disabled",
  "endpoint.enabled",
]);

// A project id Svix could not take as a uid was given a digest uid: the uid alone does not name it.
const DIGEST_UID = /^prj_[0-9a-f]{40}$/;

const str = (value: unknown): string | null =>
  typeof value === "string" && value.length > 0 && value.length <= 256 ? value : null;

/**
 * Records what Svix later says about delivering our messages to customers' endpoints, matched to
 * the notification it concerns, once per webhook (Svix redelivers them like any webhook).
 */
export class DeliveryEventsService {
  private readonly ledger: DeliveryEventLedger;
  private readonly logger: Logger;
  private readonly metrics: Metrics;
  private readonly clock: Clock;

  constructor(options: { ledger: DeliveryEventLedger; logger: Logger; metrics: Metrics; clock: Clock }) {
    this.ledger = options.ledger;
    this.logger = options.logger;
    this.metrics = options.metrics;
    this.clock = options.clock;
  }

  async record(event: {
    svixId: string;
    type: string;
    data: Record<string, unknown>;
  }): Promise<{ stored: boolean; ignored?: boolean; eventId: string | null }> {
    if (!DELIVERY_EVENT_TYPES.has(event.type)) return { stored: false, ignored: true, eventId: null };
    const { data } = event;
    const appUid = str(data.appUid);
    const msgId = str(data.msgId);
    const lastAttempt = (data.lastAttempt ?? {}) as { timestamp?: unknown; responseStatusCode?: unknown };
    const matched = event.type.startsWith("message.")
      ? await this.ledger.notificationOf(str(data.msgEventId), msgId)
      : null;
    const occurred = new Date(String(lastAttempt.timestamp ?? data.failSince ?? ""));
    const entry: DeliveryEvent = {
      svixId: event.svixId.slice(0, 256),
      type: event.type,
      eventId: matched?.eventId ?? null,
      appUid,
      project: matched?.project ?? (appUid && !DIGEST_UID.test(appUid) ? appUid : null),
      msgId,
      endpointId: str(data.endpointId),
      responseStatus: httpStatus(lastAttempt.responseStatusCode),
      occurredAt: Number.isNaN(occurred.getTime()) ? new Date(this.clock.now()) : occurred,
    };
    const stored = await this.ledger.add(entry);
    if (stored) {
      this.metrics.deliveryEvents.inc({ type: event.type });
      const level = event.type === "message.attempt.exhausted" || event.type === "endpoint.disabled" ? "warn" : "info";
      this.logger[level](
        {
          svixType: event.type,
          eventId: entry.eventId,
          project: entry.project,
          endpointId: entry.endpointId,
          responseStatus: entry.responseStatus,
        },
        "Svix reported on delivery to a customer endpoint",
      );
    }
    return { stored, eventId: entry.eventId };
  }
}

/**
 * The endpoint's HTTP status as Svix reported it (0 when no answer came), or null for anything
 * that is not one: a larger integer would not fit the column and turn a bad field into a
 * database error (and the webhook into a retry loop).
 */
function httpStatus(value: unknown): number | null {
  return Number.isInteger(value) && (value as number) >= 0 && (value as number) <= 999 ? (value as number) : null;
}
