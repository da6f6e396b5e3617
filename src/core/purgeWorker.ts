import type { Logger } from "pino";
import type { Metrics } from "../observability/metrics.ts";
import type { Clock } from "./ports/clock.ts";
import type { RetentionLedger } from "./ports/retention.ts";

export interface PurgeWorkerOptions {
  retention: RetentionLedger;
  logger: Logger;
  metrics: Metrics;
  clock: Clock;
  /** Payloads and quarantined bodies older than this many days are cleared. */
  retentionDays: number;
  /** Pause between purges (jittered), ms. */
  intervalMs: number;
  /** Rows cleared per transaction. */
  batchSize?: number;
}

/**
 * Personal-data retention: on every instance, every intervalMs, clears payloads of settled
 * notifications and bodies of quarantined messages older than the retention, keeping their audit
 * rows. A database lock makes one instance do it at a time; the others skip their turn.
 */
export class PurgeWorker {
  private readonly options: Required<PurgeWorkerOptions>;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = true;

  constructor(options: PurgeWorkerOptions) {
    this.options = { batchSize: 1000, ...options };
  }

  start(): void {
    this.stopped = false;
    this.schedule(5_000 + Math.random() * 10_000);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.purgeAll()
        .catch((error: unknown) => this.options.logger.warn({ err: error }, "payload purge failed; trying again later"))
        .finally(() => this.schedule(this.options.intervalMs * (0.75 + Math.random() / 2)));
    }, delayMs);
    this.timer.unref();
  }

  /** Purges batch after batch until nothing old is left (or another instance holds the lock). */
  async purgeAll(): Promise<{ notifications: number; quarantined: number; skipped: boolean }> {
    const { retention, clock, metrics, logger, batchSize } = this.options;
    const before = new Date(clock.now() - this.options.retentionDays * 86_400_000);
    const total = { notifications: 0, quarantined: 0, skipped: false };
    for (;;) {
      const batch = await retention.purge(before, batchSize, new Date(clock.now()));
      if (!batch) return { ...total, skipped: true };
      total.notifications += batch.notifications;
      total.quarantined += batch.quarantined;
      metrics.purged.inc({ kind: "notification" }, batch.notifications);
      metrics.purged.inc({ kind: "quarantine" }, batch.quarantined);
      if ((batch.notifications < batchSize && batch.quarantined < batchSize) || this.stopped) break;
    }
    if (total.notifications + total.quarantined > 0) logger.info({ ...total, before }, "personal data purged");
    return total;
  }
}
