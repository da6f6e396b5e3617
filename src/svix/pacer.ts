import { type Clock, systemClock } from "../core/ports/clock.ts";

/** How long after a 429 the rest of its burst is counted as accepted (inside Svix's Retry-After). */
const LEARN_SETTLE_MS = 500;

export interface PacerOptions {
  /** The relay's clock (the composition root's); the system clock when absent. */
  clock?: Clock;
  /** The pace never drops below this many calls per second. */
  minRatePerSecond?: number;
  /** After a 429, the pace is this share of what Svix accepted in the second before it (0.93: one call late on the event loop must not make a window overflow). */
  backoffShare?: number;
  /** Without a 429 for this long (30 s), the pace goes up a little (or halfway back to what Svix once accepted): Svix's limit may have risen, and each probe past it costs a Retry-After pause. */
  increaseEveryMs?: number;
  /** Tokens saved up beyond one, in seconds of pace (0): a saved burst would land on the edge of a rate-limit window. */
  burstSeconds?: number;
}

/**
 * Learns Svix's rate limit from its 429s and paces calls just under it (a token bucket whose
 * rate is set from what Svix accepted, raised slowly while no 429 comes: additive increase,
 * multiplicative decrease). Unlimited until the first 429: most accounts never see one.
 * Per instance, shared by the fast path and the dispatcher.
 */
export class Pacer {
  private readonly clock: Clock;
  private readonly minRate: number;
  private readonly share: number;
  private readonly increaseEveryMs: number;
  private readonly burstSeconds: number;
  /** Calls per second; undefined: no limit learned yet. */
  private rate: number | undefined;
  private tokens = 0;
  private refilledAt = 0;
  private changedAt = 0;
  /** When recent calls were answered (not 429), for the rate Svix accepted. */
  private readonly answered: number[] = [];
  /** A 429 whose burst is still being answered: when it came, and the pace before it. */
  private learning: { at: number; before: number | undefined } | undefined;
  /** The most calls Svix answered (not 429) within one clock second so far, and the current second's count. */
  private peak = 0;
  private second = 0;
  private secondCount = 0;

  constructor(options: PacerOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.minRate = options.minRatePerSecond ?? 1;
    this.share = options.backoffShare ?? 0.93;
    this.increaseEveryMs = options.increaseEveryMs ?? 30_000;
    this.burstSeconds = options.burstSeconds ?? 0;
  }

  /** Calls per second it paces to; undefined while no limit was learned. */
  get ratePerSecond(): number | undefined {
    return this.rate;
  }

  /** Milliseconds until a call may start; 0 when it may now. */
  waitMs(): number {
    this.refill();
    if (this.rate === undefined) return 0;
    return this.nextSlotMs(this.rate);
  }

  /** Milliseconds until the next free slot at `rate` (after the slots already booked). */
  private nextSlotMs(rate: number): number {
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) * 1000) / rate);
  }

  /** Takes the right to make one call now; false when the pace does not allow it yet. */
  take(): boolean {
    this.refill();
    if (this.rate === undefined) return true;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /**
   * Books the next free slot for a call that can wait for it (the dispatcher): milliseconds to
   * wait before making the call, which then must not take() again. Slots booked ahead are
   * unavailable to take(), so waiting callers are not overtaken. A slot further away than
   * maxWaitMs is not booked (undefined): a booking given up would still hold back every later call.
   */
  reserve(maxWaitMs = Number.POSITIVE_INFINITY): number | undefined {
    this.refill();
    if (this.rate === undefined) return 0;
    const wait = this.nextSlotMs(this.rate);
    if (wait > maxWaitMs) return undefined;
    this.tokens -= 1;
    return wait;
  }

  /** Svix answered a call (anything but 429). */
  answeredCall(): void {
    const now = this.clock.now();
    const second = Math.floor(now / 1000);
    if (second !== this.second) {
      this.second = second;
      this.secondCount = 0;
    }
    this.secondCount += 1;
    this.peak = Math.max(this.peak, this.secondCount);
    this.answered.push(now);
    if (this.answered.length > 4096) this.answered.splice(0, this.answered.length - 2048);
  }

  /**
   * Svix answered 429: pace to a share of what it accepted in the second before it. Calls of the
   * same burst still in flight are answered after the 429, so the count is settled a little
   * later (LEARN_SETTLE_MS, inside Svix's Retry-After pause); until then a first guess holds.
   */
  throttled(): void {
    const now = this.clock.now();
    if (this.learning === undefined) {
      this.learning = { at: now, before: this.rate };
      this.rate = this.learnedRate(now, now, this.rate);
    }
    this.tokens = 0;
    this.refilledAt = now;
    this.changedAt = now;
  }

  /**
   * The pace from what Svix accepted in the second up to `upTo`, never above `ceiling` (a pace
   * Svix refused). A 429 with nothing accepted before it says nothing about the rate: the pace
   * stays what it was (the Retry-After pause still applies).
   */
  private learnedRate(throttledAt: number, upTo: number, ceiling: number | undefined): number | undefined {
    const accepted = this.answered.filter((t) => t > throttledAt - 1000 && t <= upTo).length;
    if (accepted === 0) return ceiling === undefined ? undefined : Math.max(this.minRate, ceiling * this.share);
    const learned = Math.max(this.minRate, accepted * this.share);
    return ceiling === undefined ? learned : Math.max(this.minRate, Math.min(learned, ceiling * this.share));
  }

  private refill(): void {
    const now = this.clock.now();
    if (this.learning && now - this.learning.at >= LEARN_SETTLE_MS) {
      this.rate = this.learnedRate(this.learning.at, this.learning.at + LEARN_SETTLE_MS, this.learning.before);
      this.learning = undefined;
    }
    if (this.rate === undefined) return;
    const rate = this.rate;
    if (now - this.changedAt >= this.increaseEveryMs) {
      // Additive increase: a little more each quiet period, until the next 429 says where the limit is.
      // But at least halfway back to the share of the most Svix ever accepted in a second: a storm
      // of 429s that came while little was being sent (paused by Retry-After, the circuit open)
      // drives the pace to its minimum, and 5 % a period would take hours to drain the backlog.
      this.rate = Math.max(rate + Math.max(0.5, rate * 0.05), (rate + this.peak * this.share) / 2);
      this.changedAt = now;
    }
    const capacity = Math.max(1, this.rate! * this.burstSeconds);
    this.tokens = Math.min(capacity, this.tokens + ((now - this.refilledAt) * this.rate!) / 1000);
    this.refilledAt = now;
  }
}
