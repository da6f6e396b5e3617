/** Svix operations the emulator tells apart, for fault rules and the call log. */
export type EmulatorOperation =
  | "application.list"
  | "application.create"
  | "application.get"
  | "message.create"
  | "message.list"
  | "message.get"
  | "appPortalAccess"
  | "eventType.create"
  | "eventType.list"
  | "eventType.get"
  | "eventType.upsert"
  | "endpoint.create"
  | "endpoint.list"
  | "endpoint.get"
  | "endpoint.update"
  | "endpoint.patch"
  | "endpoint.delete"
  | "endpoint.getSecret"
  | "messageAttempt.listByMsg"
  | "health"
  /** A request no route of Svix's API matches (answered 404): recorded, so a stray path shows. */
  | "unmatched";

/**
 * One injected fault. `times` counts down per matching call (absent: forever).
 * - status: answer with that HTTP status (Svix's error body), optionally with Retry-After;
 * - hang: never answer (the connection stays open until the emulator closes);
 * - reset: destroy the connection;
 * - latency: delay the real answer by a random time in [minMs, maxMs].
 * `phase: "after"` applies the fault after the call took effect (the message exists, the
 * answer is lost): the window between Svix's 2xx and the relay's commit.
 * `probability` (0–1, absent: 1) applies the rule to that share of the matching calls, at random:
 * a Svix that fails 10 % of its calls; a call the dice spare consumes none of `times`.
 */
export type FaultRule = {
  operation?: EmulatorOperation | "*";
  times?: number;
  phase?: "before" | "after";
  probability?: number;
} & (
  | {
      kind: "status";
      status: number;
      retryAfter?: string /** A raw non-JSON body, e.g. a proxy's HTML page. */;
      rawBody?: string;
    }
  | { kind: "hang" }
  | { kind: "reset" }
  | { kind: "latency"; minMs: number; maxMs: number }
);

/** A token bucket per second, like Svix's own API limits. */
export interface RateLimit {
  perSecond: number;
  /** Retry-After header value sent with the 429 (omit to send none). */
  retryAfterSeconds?: number;
  operation?: EmulatorOperation | "*";
}

export interface CallRecord {
  at: number;
  operation: EmulatorOperation;
  method: string;
  /** The path exactly as it arrived, still percent-encoded (without the query). */
  path: string;
  status: number;
  idempotencyKey?: string;
  /** The W3C traceparent the caller sent (a relay with tracing on sends its Svix span's). */
  traceparent?: string;
  /** Retry-After sent with this answer, seconds. */
  retryAfter?: number;
}

function matches(rule: { operation?: EmulatorOperation | "*" }, op: EmulatorOperation): boolean {
  return rule.operation === undefined || rule.operation === "*" || rule.operation === op;
}

/** A valid probability of a fault rule: absent, or a number from 0 to 1. */
export function isFaultProbability(value: unknown): boolean {
  return value === undefined || (typeof value === "number" && value >= 0 && value <= 1);
}

export class FaultPlan {
  private rules: FaultRule[] = [];
  /** Uniform in [0, 1): decides the rules with a probability (tests pass their own). */
  private readonly random: () => number;

  constructor(options: { random?: () => number } = {}) {
    this.random = options.random ?? Math.random;
  }

  private rateLimit: RateLimit | undefined;
  private windowStart = 0;
  private windowCount = 0;

  add(...rules: FaultRule[]): void {
    this.rules.push(...rules.map((r) => ({ ...r })));
  }

  setRateLimit(limit: RateLimit | undefined): void {
    this.rateLimit = limit;
    this.windowStart = 0;
    this.windowCount = 0;
  }

  clear(): void {
    this.rules = [];
    this.setRateLimit(undefined);
  }

  /** The first live rule for this call and phase, consuming one of its `times`. */
  take(op: EmulatorOperation, phase: "before" | "after"): FaultRule | undefined {
    // One draw per call, compared with each rule's probability: the first rule that applies wins.
    const draw = this.random();
    const rule = this.rules.find(
      (r) =>
        matches(r, op) &&
        (r.phase ?? "before") === phase &&
        (r.times ?? 1) > 0 &&
        (r.probability === undefined || draw < r.probability),
    );
    if (rule && rule.times !== undefined) rule.times -= 1;
    return rule;
  }

  /** Undefined when the call may go on; the rate limit when it must be answered 429. */
  throttled(op: EmulatorOperation, now: number): RateLimit | undefined {
    const limit = this.rateLimit;
    if (!limit || !matches(limit, op)) return undefined;
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.windowCount = 0;
    }
    if (this.windowCount >= limit.perSecond) return limit;
    this.windowCount += 1;
    return undefined;
  }
}
