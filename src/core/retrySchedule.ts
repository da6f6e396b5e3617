/** The dispatcher's backoff after failed deliveries (RETRY_BASE_DELAY_MS, RETRY_MAX_DELAY_MS). */
export interface RetryPolicy {
  /** Delay after the first failed delivery, ms; doubled per further failure. */
  baseDelayMs: number;
  /** Longest delay, ms, however many failures. */
  maxDelayMs: number;
}

export interface RetryInput {
  /** Deliveries of this event that ended in a retryable failure so far (0: shed without a call). */
  failures: number;
  /** Svix's Retry-After, seconds, when it gave one. */
  retryAfterSeconds?: number;
  /** How long this instance must wait before any Svix call (Retry-After window, open circuit, pace), ms. */
  instanceWaitMs: number;
}

/**
 * Milliseconds until the dispatcher may try an event again after its n-th failed delivery:
 * exponential (base × 2^(n−1)), jittered into [half, full], capped at maxDelayMs, never inside
 * Svix's Retry-After or while this instance must wait. Nothing failed (shed without a call, no
 * Retry-After): at once.
 */
export function retryDelayMs(input: RetryInput, policy: RetryPolicy, random: () => number = Math.random): number {
  const { failures } = input;
  const backoff = failures <= 0 ? 0 : Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(30, failures - 1));
  const jittered = backoff / 2 + random() * (backoff / 2);
  return Math.max(jittered, (input.retryAfterSeconds ?? 0) * 1000, input.instanceWaitMs);
}
