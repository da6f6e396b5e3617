/**
 * The emulator's background work (delivery attempts, retries, operational webhooks): every timer
 * and in-flight request in one place, so `reset()` and `stop()` can cancel all of it and a test
 * process exits without waiting for a retry due in minutes.
 */
export class TaskTimers {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly controllers = new Set<AbortController>();
  private epochCount = 0;

  /** Bumped by cancelAll(); work that started in an older epoch must not write its result. */
  get epoch(): number {
    return this.epochCount;
  }

  isCurrent(epoch: number): boolean {
    return epoch === this.epochCount;
  }

  /** Runs `task` after `delayMs` (milliseconds), unless cancelled first. */
  later(delayMs: number, task: () => void): void {
    const timer = setTimeout(
      () => {
        this.timers.delete(timer);
        task();
      },
      Math.max(0, delayMs),
    );
    this.timers.add(timer);
  }

  /** Runs a request with a signal that cancelAll() aborts. */
  async track<T>(run: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    this.controllers.add(controller);
    try {
      return await run(controller.signal);
    } finally {
      this.controllers.delete(controller);
    }
  }

  /** Timers not yet fired plus requests in flight. */
  get pending(): number {
    return this.timers.size + this.controllers.size;
  }

  cancelAll(): void {
    this.epochCount += 1;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const controller of this.controllers) controller.abort();
    this.controllers.clear();
  }
}
