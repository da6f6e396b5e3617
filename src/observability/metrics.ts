import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { type QueueSource, queueGauges } from "./queueGauges.ts";

/** Prometheus metrics of one relay instance (own registry, so tests can build several). */
export interface Metrics {
  registry: Registry;
  /** Deliveries by outcome: delivered, duplicate, queued, rejected, failed, ledger_error. */
  notifications: Counter<"outcome">;
  /** Events answered from the ledger without a Svix call. */
  duplicates: Counter;
  /** Duration of the Svix part of a delivery, seconds. */
  svixLatency: Histogram<"outcome">;
  /** Svix calls by operation and result (ok, rate_limited, unavailable, rejected, timeout, network). */
  svixCalls: Counter<"operation" | "result">;
  /** Requests refused without calling Svix, by reason (cooldown, circuit_open, overloaded). */
  shed: Counter<"reason">;
  svixInFlight: Gauge;
  circuitOpen: Gauge;
  /** Calls per second the relay paces Svix to (learned from its 429s); 0 while unlimited. */
  svixPace: Gauge;
  /** The dispatcher's deliveries by outcome (delivered, queued, rejected, failed, or an error code). */
  dispatch: Counter<"outcome">;
  /** Pub/Sub messages quarantined, by reason. */
  quarantined: Counter<"reason">;
  /** Pulled messages by result (acked, nacked) and outcome (a relay status, or an error code). */
  pulled: Counter<"result" | "status">;
  /** Personal data cleared by retention (PAYLOAD_RETENTION_DAYS), by kind: notification (payloads), quarantine (body, message and details). */
  purged: Counter<"kind">;
  /** Wrong credentials presented (tokens, ID tokens, dashboard logins). */
  authFailures: Counter;
  /** Requests refused because their client presented too many wrong credentials. */
  authThrottled: Counter;
  /** Audit rows deleted by retention (AUDIT_RETENTION_DAYS), by kind: notification, delivery_attempt, delivery_event, quarantine. */
  auditDeleted: Counter<"kind">;
  /** What Svix reported about delivery to customers' endpoints, by type. */
  deliveryEvents: Counter<"type">;
  /** New events of a type not declared in schemas/event-types.json, by what was done (deliver, reject); never by type. */
  undeclaredEventTypes: Counter<"action">;
  /**
   * From Pub/Sub's publish time (the arrival, for a direct post) to Svix accepting the message,
   * seconds, by transport (push, pull, body): once per notification delivered, never for a duplicate.
   */
  endToEnd: Histogram<"transport">;
  /** Answered HTTP requests by route pattern ("POST /notifications", "unmatched") and status class (2xx…5xx). */
  httpRequests: Counter<"route" | "status_class">;
  /**
   * Reads the queue gauges (relay_queue_depth, relay_queue_oldest_age_seconds, their read
   * failures) from the ledger on scrape, at most once per QUEUE_REFRESH_MS.
   */
  watchQueue(source: QueueSource): void;
}

/** The outcome label of relay_notifications_total. */
export const NOTIFICATION_OUTCOMES = [
  "delivered",
  "duplicate",
  "queued",
  "rejected",
  "failed",
  "ledger_error",
] as const;

/**
 * From 50 ms (Pub/Sub's own publish-to-push latency) to an hour (a Svix outage drained by the
 * dispatcher): a pager needs both ends, and the quantiles in between.
 */
const END_TO_END_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];

export function createMetrics(options: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const queue = queueGauges(registers);
  const notifications = new Counter({
    name: "relay_notifications_total",
    help: "Deliveries by outcome",
    labelNames: ["outcome"],
    registers,
  });
  // Every outcome from 0: rate() and increase() cannot see a series' first sample, so the first
  // rejected or failed notification after a start would otherwise never raise an alert.
  for (const outcome of NOTIFICATION_OUTCOMES) notifications.inc({ outcome }, 0);
  return {
    registry,
    notifications,
    duplicates: new Counter({
      name: "relay_duplicates_total",
      help: "Duplicate events answered from the ledger",
      registers,
    }),
    svixLatency: new Histogram({
      name: "relay_svix_delivery_seconds",
      help: "Time spent delivering to Svix",
      labelNames: ["outcome"],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    svixCalls: new Counter({
      name: "relay_svix_calls_total",
      help: "Svix API calls",
      labelNames: ["operation", "result"],
      registers,
    }),
    shed: new Counter({
      name: "relay_shed_total",
      help: "Requests refused without calling Svix",
      labelNames: ["reason"],
      registers,
    }),
    svixInFlight: new Gauge({ name: "relay_svix_in_flight", help: "Svix calls in flight", registers }),
    svixPace: new Gauge({
      name: "relay_svix_pace_per_second",
      help: "Svix calls per second the relay paces to, learned from 429s (0: unlimited)",
      registers,
    }),
    circuitOpen: new Gauge({ name: "relay_svix_circuit_open", help: "1 while the Svix circuit is open", registers }),
    dispatch: new Counter({
      name: "relay_dispatch_total",
      help: "Dispatcher deliveries by outcome",
      labelNames: ["outcome"],
      registers,
    }),
    quarantined: new Counter({
      name: "relay_quarantined_total",
      help: "Pub/Sub messages quarantined, by reason",
      labelNames: ["reason"],
      registers,
    }),
    pulled: new Counter({
      name: "relay_pulled_messages_total",
      help: "Pulled Pub/Sub messages by result",
      labelNames: ["result", "status"],
      registers,
    }),
    deliveryEvents: new Counter({
      name: "relay_svix_delivery_events_total",
      help: "Svix operational webhooks received, by type",
      labelNames: ["type"],
      registers,
    }),
    undeclaredEventTypes: new Counter({
      name: "relay_undeclared_event_types_total",
      help: "New events of a type not declared in schemas/event-types.json, by what was done (deliver, reject)",
      labelNames: ["action"],
      registers,
    }),
    authFailures: new Counter({
      name: "relay_auth_failures_total",
      help: "Wrong credentials presented: tokens, Google ID tokens, dashboard logins",
      registers,
    }),
    authThrottled: new Counter({
      name: "relay_auth_throttled_total",
      help: "Requests refused because their client presented too many wrong credentials (429)",
      registers,
    }),
    purged: new Counter({
      name: "relay_payloads_purged_total",
      help: "Personal data cleared by retention: notification payloads, quarantined messages' bodies with their messages and details",
      labelNames: ["kind"],
      registers,
    }),
    auditDeleted: new Counter({
      name: "relay_audit_rows_deleted_total",
      help: "Audit rows deleted by retention: notifications, their delivery attempts, delivery events, quarantined messages",
      labelNames: ["kind"],
      registers,
    }),
    endToEnd: new Histogram({
      name: "relay_end_to_end_seconds",
      help: "From Pub/Sub's publish time (or a direct post's arrival) to Svix accepting the message",
      labelNames: ["transport"],
      buckets: END_TO_END_BUCKETS,
      registers,
    }),
    httpRequests: new Counter({
      name: "relay_http_requests_total",
      help: "Answered HTTP requests by route pattern and status class",
      labelNames: ["route", "status_class"],
      registers,
    }),
    watchQueue: (source) => queue.watch(source),
  };
}
