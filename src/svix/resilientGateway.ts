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
  /**
   * A probe unanswered this long lets one more probe go (default 250 ms), up to MAX_PROBES at
   * once: an outage that ends with hung calls costs a quarter second per hung call, not a probe
   * timeout each.
   */
  probeHedgeMs?: number;
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
  /** Told when the circuit opens (the dispatcher wakes up to sleep exactly until a probe may go). */
  onOpened?: () => void;
  /** Paces calls under the rate limit learned from Svix's 429s. */
  pacer?: Pacer;
}

type Circuit = { state: "closed" } | { state: "open"; until: number } | { state: "half_open" };

/** Probes in flight at most while the circuit is half-open (each is a real delivery). */
const MAX_PROBES = 3;

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
  private probesInFlight = 0;
  private lastProbeStartedAt = 0;
  private inFlight = 0;
  /** Callers of whenRoom() waiting for a place, oldest first. */
  private readonly roomWaiters: Array<() => void> = [];
  private lastRecovery = 0;

  constructor(options: ResilientGatewayOptions) {
    this.options = {
      rateLimitBaseMs: 1000,
      probeTimeoutMs: 1000,
      probeHedgeMs: 250,
      rateLimitMaxMs: 60_000,
      maxPauseMs: 300_000,
      retryBaseMs: 100,
      clock: systemClock,
      onRecovered: () => undefined,
      onOpened: () => undefined,
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
    return Math.max(0, this.pausedUntil - now, this.circuitWaitMs(now));
  }

  /** How long the circuit refuses calls from now: open until its cool-down ends; half-open until a probe may go. */
  private circuitWaitMs(now: number): number {
    if (this.circuit.state === "open") return this.circuit.until - now;
    if (this.circuit.state === "half_open" && this.probesInFlight > 0) {
      // The probes running may still answer; another may go once the last has waited probeHedgeMs.
      return this.probesInFlight >= MAX_PROBES
        ? this.options.probeHedgeMs
        : this.lastProbeStartedAt + this.options.probeHedgeMs - now;
    }
    return 0;
  }

  reserveCall(maxWaitMs?: number): number | undefined {
    return this.options.pacer.reserve(maxWaitMs);
  }

  /** True while every place for a Svix call is taken: a new event is better queued at once. */
  saturated(): boolean {
    return this.inFlight >= this.options.maxInFlight;
  }

  whenRoom(maxWaitMs: number): Promise<boolean> {
    if (!this.saturated()) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const told = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        const at = this.roomWaiters.indexOf(told);
        if (at >= 0) this.roomWaiters.splice(at, 1);
        resolve(false);
      }, maxWaitMs);
      timer.unref();
      this.roomWaiters.push(told);
    });
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
        const startedAt = this.options.clock.now();
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
          this.succeeded(probe);
          return result;
        } catch (error) {
          const failure = isAppError(error)
            ? error
            : new AppError("svix_unavailable", "Svix call failed", { cause: error });
          this.failed(failure, probe ? startedAt : undefined);
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
      this.roomWaiters.shift()?.();
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
    if (this.circuit.state === "open" && (now >= this.circuit.until || (operatorProbe && this.probesInFlight === 0)))
      this.circuit = { state: "half_open" };
    const wait = this.circuitWaitMs(now);
    if (this.circuit.state === "open" || wait > 0) {
      this.options.metrics.shed.inc({ reason: "circuit_open" });
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
      this.probesInFlight += 1;
      this.lastProbeStartedAt = now;
      return true;
    }
    return false;
  }

  private succeeded(probe: boolean): void {
    if (probe) this.probesInFlight -= 1;
    this.options.pacer.answeredCall();
    this.consecutive429 = 0;
    this.consecutiveFailures = 0;
    if (this.circuit.state !== "closed") {
      this.circuit = { state: "closed" };
      this.lastRecovery = this.options.clock.now();
      this.options.metrics.circuitOpen.set(0);
      this.options.logger.info("Svix answers again: circuit closed");
      this.options.onRecovered();
    }
  }

  /** probeStartedAt: when the failed call was a probe, the moment it started. */
  private failed(failure: AppError, probeStartedAt: number | undefined): void {
    if (probeStartedAt !== undefined) this.probesInFlight -= 1;
    // A probe that fails after another one closed the circuit is an ordinary failure: Svix answered that one.
    const probe = probeStartedAt !== undefined && this.circuit.state !== "closed";
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
      if (this.circuit.state !== "closed") this.succeeded(false);
      return;
    }
    if (failure.upstreamStatus !== undefined) this.options.pacer.answeredCall();
    if (failure.code !== "svix_unavailable" && failure.code !== "svix_unauthorized") {
      // A permanent rejection is an answer: Svix is up.
      this.consecutiveFailures = 0;
      if (this.circuit.state !== "closed") this.succeeded(false);
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
      const from = probe ? Math.min(now, probeStartedAt) : now;
      const until = Math.max(now, from + this.options.circuitCooldownMs);
      // A hung probe that times out after a sibling failed at once does not shorten that one's cool-down.
      this.circuit = {
        state: "open",
        until: this.circuit.state === "open" ? Math.max(this.circuit.until, until) : until,
      };
      this.options.metrics.circuitOpen.set(1);
      if (first) {
        this.options.logger.warn(
          { failures: this.consecutiveFailures, cooldownMs: this.options.circuitCooldownMs, lastError: failure.code },
          "Svix keeps failing: circuit opened",
        );
        this.options.onOpened();
      }
    }
  }
}
