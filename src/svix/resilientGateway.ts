import type { Logger } from "pino";
import { AppError, isAppError } from "../errors.ts";
import type {
  AppPortalRequest,
  CallOptions,
  EventTypeDefinition,
  OutgoingMessage,
  SentMessage,
  SvixAdmin,
  SvixGateway,
} from "../core/ports/svix.ts";
import type { Metrics } from "../observability/metrics.ts";
import { Pacer } from "./pacer.ts";
import { type Clock, systemClock } from "../core/ports/clock.ts";
import type { SvixApi, SvixApp } from "./svixGateway.ts";

export interface ResilientGatewayOptions {
  inner: SvixApi;
  logger: Logger;
  metrics: Metrics;
  /** Retries of one call for 5xx, timeouts and resets, within the caller's deadline. */
  maxRetries: number;
  /** Svix calls in flight at most; more are shed at once with 503. */
  maxInFlight: number;
  /** Consecutive transient failures that open the circuit. */
  circuitFailureThreshold: number;
  /** How long the circuit stays open before one probe call may go through (counted from the last probe's start). */
  circuitCooldownMs: number;
  /** Longest wait for the probe's answer, ms (default 1000). */
  probeTimeoutMs?: number;
  /** Pause after a 429 without Retry-After, doubled per consecutive 429 up to rateLimitMaxMs. */
  rateLimitBaseMs?: number;
  rateLimitMaxMs?: number;
  /** Longest pause a Retry-After can impose. */
  maxPauseMs?: number;
  /** First in-request retry delay, doubled per retry (with jitter). */
  retryBaseMs?: number;
  /** The relay's clock (the composition root's); the system clock when absent. */
  clock?: Clock;
  /** Told when Svix answers again after the circuit opened (the dispatcher wakes up). */
  onRecovered?: () => void;
  /** Paces calls under the rate limit learned from Svix's 429s. */
  pacer?: Pacer;
}

type Circuit = { state: "closed" } | { state: "open"; until: number } | { state: "half_open" };

/**
 * Wraps the Svix gateway with what the SDK lacks, per instance:
 * - a Retry-After window: after a 429 nothing is sent to Svix until it has passed (exponential
 *   backoff with jitter when Svix gives no Retry-After); calls meanwhile fail fast with 429;
 * - a bound on calls in flight (503 past it, instead of an unbounded queue);
 * - short retries of 5xx / timeouts / resets inside the caller's deadline;
 * - a circuit that opens after repeated failures and lets one probe through after a cool-down.
 * State changes are logged once, not once per request.
 */
export class ResilientSvixGateway implements SvixGateway, SvixAdmin {
  private readonly options: Required<ResilientGatewayOptions>;
  private pausedUntil = 0;
  private consecutive429 = 0;
  private consecutiveFailures = 0;
  private circuit: Circuit = { state: "closed" };
  private probeInFlight = false;
  private probeStartedAt = 0;
  private inFlight = 0;
  private lastRecovery = 0;

  constructor(options: ResilientGatewayOptions) {
    this.options = {
      rateLimitBaseMs: 1000,
      probeTimeoutMs: 1000,
      rateLimitMaxMs: 60_000,
      maxPauseMs: 300_000,
      retryBaseMs: 100,
      clock: systemClock,
      onRecovered: () => undefined,
      ...options,
      pacer: options.pacer ?? new Pacer({ clock: options.clock }),
    };
  }

  /** Not part of the core's port: the operators' app-portal link creates the application. */
  getOrCreateApplication(
    input: { uid: string; name: string; project: string },
    options: CallOptions = {},
  ): Promise<SvixApp> {
    return this.run((o) => this.options.inner.getOrCreateApplication(input, o), options);
  }

  createMessage(message: OutgoingMessage, options: CallOptions = {}): Promise<SentMessage> {
    return this.run((o) => this.options.inner.createMessage(message, o), options);
  }

  appPortalAccess(input: AppPortalRequest, options: CallOptions = {}): Promise<{ url: string; token: string }> {
    return this.run((o) => this.options.inner.appPortalAccess(input, o), options);
  }

  ensureEventType(input: EventTypeDefinition, options: CallOptions = {}): Promise<"created" | "updated" | "unchanged"> {
    return this.run((o) => this.options.inner.ensureEventType(input, o), options);
  }

  waitMs(): number {
    return Math.max(this.blockedMs(), this.options.pacer.waitMs());
  }

  blockedMs(): number {
    const now = this.options.clock.now();
    const circuitWait = this.circuit.state === "open" ? this.circuit.until - now : 0;
    return Math.max(0, this.pausedUntil - now, circuitWait);
  }

  reserveCall(maxWaitMs?: number): number | undefined {
    return this.options.pacer.reserve(maxWaitMs);
  }

  /** True while every place for a Svix call is taken: a new event is better queued at once. */
  saturated(): boolean {
    return this.inFlight >= this.options.maxInFlight;
  }

  probing(): boolean {
    return this.circuit.state !== "closed";
  }

  recoveredAt(): number {
    return this.lastRecovery;
  }

  private async run<T>(fn: (options: CallOptions) => Promise<T>, options: CallOptions): Promise<T> {
    if (this.inFlight >= this.options.maxInFlight) {
      this.options.metrics.shed.inc({ reason: "overloaded" });
      throw new AppError("overloaded", "Too many Svix calls in flight on this instance", { retryAfterSeconds: 1 });
    }
    this.inFlight += 1;
    try {
      for (let retry = 0; ; retry += 1) {
        const probe = this.admit(options.probe === true && retry === 0, options.reserved === true && retry === 0);
        try {
          // The probe learns whether Svix is back: a hung call must not keep the circuit open
          // (and every queued event waiting) for a whole SVIX_TIMEOUT_MS.
          const callOptions = probe
            ? {
                ...options,
                deadline: Math.min(
                  options.deadline ?? Number.POSITIVE_INFINITY,
                  this.options.clock.now() + this.options.probeTimeoutMs,
                ),
              }
            : options;
          const result = await fn(callOptions);
          this.succeeded();
          return result;
        } catch (error) {
          const failure = isAppError(error)
            ? error
            : new AppError("svix_unavailable", "Svix call failed", { cause: error });
          this.failed(failure, probe);
          const transient = failure.code === "svix_unavailable";
          const delay = this.options.retryBaseMs * 2 ** retry * (0.5 + Math.random() / 2);
          const deadline = options.deadline ?? Number.POSITIVE_INFINITY;
          // A retry needs time left for the call itself, not only for the wait before it.
          if (
            !transient ||
            probe ||
            retry >= this.options.maxRetries ||
            this.options.clock.now() + delay + 2 * this.options.retryBaseMs > deadline
          )
            throw failure;
          await new Promise((resolve) => setTimeout(resolve, delay));
        }
      }
    } finally {
      this.inFlight -= 1;
    }
  }

  /**
   * Throws when Svix may not be called now; returns true when this call is the circuit's probe.
   * `operatorProbe`: an operator's replay may be the probe before the cool-down has passed;
   * `reserved`: the caller booked its pace slot (reserveCall) and waited for it.
   */
  private admit(operatorProbe: boolean, reserved: boolean): boolean {
    const now = this.options.clock.now();
    if (now < this.pausedUntil) {
      this.options.metrics.shed.inc({ reason: "cooldown" });
      throw new AppError(
        "svix_rate_limited",
        "Svix asked us to slow down; not calling it until its Retry-After has passed",
        {
          retryAfterSeconds: Math.ceil((this.pausedUntil - now) / 1000),
        },
      );
    }
    if (this.circuit.state === "open" && (now >= this.circuit.until || (operatorProbe && !this.probeInFlight)))
      this.circuit = { state: "half_open" };
    if (this.circuit.state === "open" || (this.circuit.state === "half_open" && this.probeInFlight)) {
      this.options.metrics.shed.inc({ reason: "circuit_open" });
      const wait = this.circuit.state === "open" ? this.circuit.until - now : this.options.circuitCooldownMs;
      throw new AppError("svix_circuit_open", "Svix is failing; calls are paused until a probe succeeds", {
        retryAfterSeconds: Math.max(1, Math.ceil(wait / 1000)),
      });
    }
    if (!reserved && !this.options.pacer.take()) {
      this.options.metrics.shed.inc({ reason: "paced" });
      throw new AppError("svix_rate_limited", "Pacing Svix calls under its rate limit", {
        retryAfterSeconds: this.options.pacer.waitMs() / 1000,
      });
    }
    if (this.circuit.state === "half_open") {
      this.probeInFlight = true;
      this.probeStartedAt = now;
      return true;
    }
    return false;
  }

  private succeeded(): void {
    this.options.pacer.answeredCall();
    this.consecutive429 = 0;
    this.consecutiveFailures = 0;
    this.probeInFlight = false;
    if (this.circuit.state !== "closed") {
      this.circuit = { state: "closed" };
      this.lastRecovery = this.options.clock.now();
      this.options.metrics.circuitOpen.set(0);
      this.options.logger.info("Svix answers again: circuit closed");
      this.options.onRecovered();
    }
  }

  private failed(failure: AppError, probe: boolean): void {
    if (probe) this.probeInFlight = false;
    if (failure.code === "svix_rate_limited") {
      this.options.pacer.throttled();
      this.options.metrics.svixPace.set(this.options.pacer.ratePerSecond ?? 0);
      this.consecutive429 += 1;
      const backoff = Math.min(
        this.options.rateLimitMaxMs,
        this.options.rateLimitBaseMs * 2 ** (this.consecutive429 - 1),
      );
      // Svix's Retry-After is obeyed, up to maxPauseMs: a bogus "wait a day" must not stop the instance.
      const waitMs =
        failure.retryAfterSeconds !== undefined
          ? Math.min(failure.retryAfterSeconds * 1000, this.options.maxPauseMs)
          : backoff * (0.5 + Math.random() / 2);
      const until = this.options.clock.now() + waitMs;
      if (until > this.pausedUntil) {
        if (this.pausedUntil <= this.options.clock.now()) {
          this.options.logger.warn(
            { waitMs: Math.round(waitMs), retryAfterGiven: failure.retryAfterSeconds !== undefined },
            "Svix rate limit: pausing Svix calls",
          );
        }
        this.pausedUntil = until;
      }
      // Svix answered, so it is up: the failure streak ends, and a throttled probe closes the circuit.
      this.consecutiveFailures = 0;
      if (this.circuit.state !== "closed") this.succeeded();
      return;
    }
    if (failure.upstreamStatus !== undefined) this.options.pacer.answeredCall();
    if (failure.code !== "svix_unavailable" && failure.code !== "svix_unauthorized") {
      // A permanent rejection is an answer: Svix is up.
      this.consecutiveFailures = 0;
      if (this.circuit.state !== "closed") this.succeeded();
      return;
    }
    this.consecutiveFailures += 1;
    if (
      probe ||
      (this.circuit.state === "closed" && this.consecutiveFailures >= this.options.circuitFailureThreshold)
    ) {
      const first = this.circuit.state === "closed";
      // Probes are a cool-down apart from start to start: a probe that hung for its whole timeout
      // has already waited that long, and after an outage that ends with hung calls each of them
      // would otherwise cost its timeout and a cool-down more before Svix is tried again.
      const now = this.options.clock.now();
      const from = probe ? Math.min(now, this.probeStartedAt) : now;
      this.circuit = { state: "open", until: Math.max(now, from + this.options.circuitCooldownMs) };
      this.options.metrics.circuitOpen.set(1);
      if (first) {
        this.options.logger.warn(
          { failures: this.consecutiveFailures, cooldownMs: this.options.circuitCooldownMs, lastError: failure.code },
          "Svix keeps failing: circuit opened",
        );
      }
    }
  }
}
