import type { Clock } from "../core/ports/clock.ts";

export interface GuessThrottleOptions {
  clock: Clock;
  /** Failed credentials a client may present within windowMs before it must wait (10). */
  maxFailures?: number;
  /** The window failures are counted in, ms (5 minutes). */
  windowMs?: number;
  /** Clients remembered at most: a flood of addresses costs bounded memory, the oldest are forgotten. */
  maxClients?: number;
}

/**
 * Slows down guessing: a client (an address, as the proxy in front reports it) that presented
 * maxFailures wrong credentials within windowMs is refused — whatever it presents, right or
 * wrong, or a wrong one would still be told apart from a right one — until the oldest of those
 * failures leaves the window. Per instance, in memory: it slows a guesser down by the number of
 * instances at most, which keeps a 16-character token out of reach all the same.
 */
export class GuessThrottle {
  private readonly clock: Clock;
  private readonly maxFailures: number;
  private readonly windowMs: number;
  private readonly maxClients: number;
  /** Failure times per client, oldest first; a Map keeps insertion order, so its first keys are the least recent. */
  private readonly failures = new Map<string, number[]>();

  constructor(options: GuessThrottleOptions) {
    this.clock = options.clock;
    this.maxFailures = options.maxFailures ?? 10;
    this.windowMs = options.windowMs ?? 300_000;
    this.maxClients = options.maxClients ?? 10_000;
  }

  /** Milliseconds this client must wait before presenting a credential again; 0 when it may now. */
  waitMs(client: string): number {
    const times = this.recent(client);
    if (times.length < this.maxFailures) return 0;
    return Math.max(0, times[times.length - this.maxFailures]! + this.windowMs - this.clock.now());
  }

  /** The client presented a credential that is none of ours. */
  failed(client: string): void {
    const times = this.recent(client);
    times.push(this.clock.now());
    // Only the last maxFailures matter for waitMs.
    if (times.length > this.maxFailures) times.splice(0, times.length - this.maxFailures);
    this.failures.delete(client);
    this.failures.set(client, times);
    while (this.failures.size > this.maxClients) this.failures.delete(this.failures.keys().next().value!);
  }

  private recent(client: string): number[] {
    const times = this.failures.get(client);
    if (!times) return [];
    const since = this.clock.now() - this.windowMs;
    while (times.length > 0 && times[0]! <= since) times.shift();
    if (times.length === 0) this.failures.delete(client);
    return times;
  }
}
