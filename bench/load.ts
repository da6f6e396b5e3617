// Load with autocannon: fixed concurrency, every request a new event (distinct id), so the relay
// does its full work each time instead of answering duplicates from the ledger.
import autocannon from "autocannon";

export interface BenchEvent {
  id: string;
  project: string;
  /** small: a user.created event (350 bytes); large: a subscription.activated event carrying its plan's coverage (5,860 bytes). */
  size?: EventSize;
}

export const EVENT_SIZES = ["small", "large"] as const;
export type EventSize = (typeof EVENT_SIZES)[number];

export interface LoadSpec {
  /** Base URL of the service under load; events go to `${url}/notifications`. */
  url: string;
  connections: number;
  /** Seconds; ignored when `amount` is set. */
  duration?: number;
  /** Exactly this many requests. */
  amount?: number;
  nextEvent: () => BenchEvent;
  /** Seconds before autocannon gives up on one answer. */
  timeoutSeconds?: number;
  /** Post each event as Pub/Sub pushes it (the wrapped envelope, base64 data) instead of the bare event. */
  push?: boolean;
  /** Requests per second over all connections (autocannon's overallRate); as fast as answered when absent. */
  rate?: number;
}

export interface LoadResult {
  seconds: number;
  /** Events whose request went out. */
  sent: string[];
  /** Answers per HTTP status. */
  answers: Record<string, number>;
  /** Events answered 2xx: the service has taken responsibility for them. */
  acked: Set<string>;
  /** Largest Retry-After (s) among the answers that were not 2xx, 0 without any. */
  maxRetryAfter: number;
  errors: number;
  timeouts: number;
  /** Answer times in ms: every answer, the 2xx ones, the 429/503 ones. */
  latency: { all: number[]; ok: number[]; shed: number[] };
}

/**
 * Two-letter codes standing in for the ISO 3166-1 alpha-2 codes of a plan's coverage: a real
 * subscription event lists ≈ 250 of them.
 */
const COVERAGE = Array.from({ length: 250 }, (_, i) => String.fromCharCode(65 + Math.floor(i / 26), 65 + (i % 26)));

/** The event's JSON text: small or large (README, Performance: the size mix). */
export function eventBody(event: BenchEvent): string {
  return event.size === "large" ? largeEventBody(event) : smallEventBody(event);
}

/**
 * A valid subscription.activated event as the platform publishes it (schemas/event-types.json's
 * example), its plan carrying the coverage: 5,860 bytes, the weight of a real `subscription.*` event.
 */
export function largeEventBody(event: BenchEvent): string {
  const suffix = event.id.slice(4);
  return JSON.stringify({
    object: "event",
    id: event.id,
    data: {
      object: "subscription",
      id: `sub_${suffix}`,
      plan: {
        object: "plan",
        id: "pln_0SNlurA049MEWV3V0q7gjQbM4EVo",
        name: "Gigs Unlimited",
        coverage: COVERAGE.map((countryCode) => ({ countryCode })),
      },
      phoneNumber: "+19591234567",
      status: "active",
      user: { object: "user", id: `usr_${suffix}`, email: "jerry@example.com" },
      activatedAt: "2026-11-27T10:00:00Z",
      createdAt: "2026-11-27T09:58:02Z",
    },
    datacontenttype: "application/json",
    project: event.project,
    source: "https://api.gigs.com",
    specversion: "1.0",
    time: "2026-11-27T10:00:00Z",
    type: "subscription.activated",
    version: "2023-01-30",
  });
}

/** The Pub/Sub push envelope (wrapped form) around an event's text, as test/helpers/events.ts's wrapped(). */
export function pushBody(eventText: string, messageId: string): string {
  return JSON.stringify({
    message: {
      data: Buffer.from(eventText).toString("base64"),
      attributes: { origin: "platform" },
      messageId,
      publishTime: "2026-11-27T10:00:01Z",
    },
    subscription: "projects/gigs-bench/subscriptions/relay-push",
  });
}

/** The shape of test/helpers/events.ts's makeEvent: a valid user.created event (350 bytes with the bench's ids). */
export function smallEventBody(event: BenchEvent): string {
  return JSON.stringify({
    object: "event",
    id: event.id,
    data: {
      object: "user",
      id: `usr_${event.id.slice(4)}`,
      email: "jane.doe@example.com",
      phoneNumber: "+15555550100",
    },
    datacontenttype: "application/json",
    project: event.project,
    source: "https://api.gigs.com",
    specversion: "1.0",
    time: "2026-11-27T10:00:00Z",
    type: "user.created",
    version: "2023-01-30",
  });
}

export const isShed = (status: number) => status === 429 || status === 503;

export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const sent: string[] = [];
  const acked = new Set<string>();
  const answers: Record<string, number> = {};
  const latency = { all: [] as number[], ok: [] as number[], shed: [] as number[] };
  let maxRetryAfter = 0;
  let messageId = 0;
  const instance = autocannon({
    url: `${spec.url}/notifications`,
    connections: spec.connections,
    ...(spec.amount === undefined ? { duration: spec.duration ?? 10 } : { amount: spec.amount }),
    timeout: spec.timeoutSeconds ?? 10,
    ...(spec.rate === undefined ? {} : { overallRate: spec.rate }),
    requests: [
      {
        method: "POST",
        headers: { "content-type": "application/json" },
        // Called for each request before it is sent (README "Customizing sent requests"); the
        // connection's context carries the event id to onResponse (one request in flight per
        // connection: no pipelining).
        setupRequest: (request, context) => {
          const event = spec.nextEvent();
          context.eventId = event.id;
          sent.push(event.id);
          const text = eventBody(event);
          return { ...request, body: spec.push ? pushBody(text, String(1e12 + messageId++)) : text };
        },
        onResponse: (status, _body, context, headers) => {
          answers[status] = (answers[status] ?? 0) + 1;
          if (status >= 200 && status < 300) acked.add(String(context.eventId));
          const retryAfter = Number(headers["retry-after"]);
          if (Number.isFinite(retryAfter) && retryAfter > maxRetryAfter) maxRetryAfter = retryAfter;
        },
      },
    ],
  });
  instance.on("response", (_client: unknown, status: number, _bytes: number, ms: number) => {
    latency.all.push(ms);
    if (status >= 200 && status < 300) latency.ok.push(ms);
    else if (isShed(status)) latency.shed.push(ms);
  });
  const result = await instance;
  return {
    seconds: result.duration,
    sent,
    answers,
    acked,
    maxRetryAfter,
    errors: result.errors,
    timeouts: result.timeouts,
    latency,
  };
}

/** Nearest-rank percentile of `values` in ms; NaN when there are none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** Adds `from`'s answer counts into `into`. */
export function addAnswers(into: Record<string, number>, from: Record<string, number>): Record<string, number> {
  for (const [status, n] of Object.entries(from)) into[status] = (into[status] ?? 0) + n;
  return into;
}
