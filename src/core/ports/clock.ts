/**
 * The one source of the current time, in epoch milliseconds: every service, the Svix gateway and
 * its pacer, the dashboard, the readiness cache read it. The composition root hands the same
 * clock to all of them, so a test can move time for the whole relay at once.
 */
export interface Clock {
  /** Epoch milliseconds, like Date.now(). */
  now(): number;
}

/** The system's clock: the only place in the relay that reads Date.now(). */
export const systemClock: Clock = { now: () => Date.now() };
