// Load with autocannon: fixed concurrency, every request a new event (distinct id), so the relay
// does its full work each time instead of answering duplicates from the ledger.
import autocannon from "autocannon";

export interface BenchEvent {
  id: string;
  project: string;
}

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

/** The shape of test/helpers/events.ts's makeEvent: a valid user.created event. */
export function eventBody(event: BenchEvent): string {
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
  const instance = autocannon({
    url: `${spec.url}/notifications`,
    connections: spec.connections,
    ...(spec.amount === undefined ? { duration: spec.duration ?? 10 } : { amount: spec.amount }),
    timeout: spec.timeoutSeconds ?? 10,
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
          return { ...request, body: eventBody(event) };
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
