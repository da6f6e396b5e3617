import type { Logger } from "pino";
import type { Metrics } from "../observability/metrics.ts";
import type { Clock } from "./ports/clock.ts";
import { EMPTY_BATCH, type RetentionBatch, type RetentionLedger } from "./ports/retention.ts";

const DAY_MS = 86_400_000;

export interface PurgeWorkerOptions {
  retention: RetentionLedger;
  logger: Logger;
  metrics: Metrics;
  clock: Clock;
  /** Payloads, quarantined bodies and the quarantine's message and details older than this many days are cleared. */
  payloadRetentionDays: number;
  /** Settled notifications, their attempts and delivery events, and quarantined messages older than this many days are deleted. */
  auditRetentionDays: number;
  /** Pause between purges (jittered), ms. */
  intervalMs: number;
  /** Rows of each kind per transaction. */
  batchSize?: number;
}

export interface PurgeResult extends RetentionBatch {
  /** Another instance was purging: this turn stopped there. */
  skipped: boolean;
}

/**
 * Retention: on every instance, every intervalMs, clears the personal data of settled
 * notifications and quarantined messages older than the payload retention (keeping their audit
 * rows), and deletes the audit rows older than the audit retention — batch after batch, each its
 * own short transaction. A database lock makes one instance do it at a time; the others skip
 * their turn.
 */
export class PurgeWorker {
  private readonly options: Required<PurgeWorkerOptions>;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private started = false;
  private stopping = false;

  constructor(options: PurgeWorkerOptions) {
    this.options = { batchSize: 1000, ...options };
  }

  start(): void {
    this.started = true;
    this.stopping = false;
    this.schedule(5_000 + Math.random() * 10_000);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(delayMs: number): void {
    if (!this.started || this.stopping) return;
    this.timer = setTimeout(() => {
      this.running = this.purgeAll()
        .catch((error: unknown) =>
          this.options.logger.warn({ err: error }, "retention purge failed; trying again later"),
        )
        .finally(() => this.schedule(this.options.intervalMs * (0.75 + Math.random() / 2)));
    }, delayMs);
    this.timer.unref();
  }

  /** Purges batch after batch until nothing old is left, another instance holds the lock, or stop() is called. */
  async purgeAll(): Promise<PurgeResult> {
    const { retention, clock, metrics, logger, batchSize } = this.options;
    const clearBefore = new Date(clock.now() - this.options.payloadRetentionDays * DAY_MS);
    const deleteBefore = new Date(clock.now() - this.options.auditRetentionDays * DAY_MS);
    const total: PurgeResult = { ...EMPTY_BATCH, skipped: false };
    for (;;) {
      const batch = await retention.purge({ clearBefore, deleteBefore }, batchSize, new Date(clock.now()));
      if (!batch) {
        total.skipped = true;
        break;
      }
      for (const key of Object.keys(EMPTY_BATCH) as Array<keyof RetentionBatch>) total[key] += batch[key];
      metrics.purged.inc({ kind: "notification" }, batch.payloads);
      metrics.purged.inc({ kind: "quarantine" }, batch.quarantineBodies);
      metrics.auditDeleted.inc({ kind: "notification" }, batch.notifications);
      metrics.auditDeleted.inc({ kind: "delivery_attempt" }, batch.attempts);
      metrics.auditDeleted.inc({ kind: "delivery_event" }, batch.deliveryEvents);
      metrics.auditDeleted.inc({ kind: "quarantine" }, batch.quarantined);
      if (!batch.more || this.stopping) break;
    }
    if ((Object.keys(EMPTY_BATCH) as Array<keyof RetentionBatch>).some((key) => total[key] > 0)) {
      logger.info(
        { ...total, clearBefore, deleteBefore },
        "retention purge: personal data cleared, old audit rows deleted",
      );
    }
    return total;
  }
}
