import type { Logger } from "pino";
import { isAppError } from "../errors.ts";
import type { Metrics } from "../observability/metrics.ts";
import type { NotificationService } from "./notificationService.ts";
import type { Clock, NotificationLedger, SvixGateway } from "./ports.ts";

export interface RedriveWorkerOptions {
  service: NotificationService;
  ledger: NotificationLedger;
  svix: Pick<SvixGateway, "pausedForSeconds">;
  logger: Logger;
  metrics: Metrics;
  clock: Clock;
  intervalMs: number;
  batchSize: number;
}

/**
 * Re-attempts notifications that internal callers (which may not retry) left `failed`, and
 * `received` ones whose owner crashed. Safe on every instance at once: each re-attempt claims
 * its row through the same conditional update as any delivery, so one instance sends it.
 * It skips its turn while Svix has asked this instance to wait or the circuit is open.
 */
export class RedriveWorker {
  private readonly o: RedriveWorkerOptions;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  /** Set by stop(): an ongoing pass ends after its current notification. */
  private stopped = false;

  constructor(options: RedriveWorkerOptions) {
    this.o = options;
  }

  start(): void {
    this.stopped = false;
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    // Jitter keeps instances started together from polling in lockstep.
    const delay = this.o.intervalMs * (0.75 + Math.random() / 2);
    this.timer = setTimeout(() => {
      this.running = this.tick()
        .then(() => undefined)
        .catch((err: unknown) => this.o.logger.warn({ err: isAppError(err) ? err.message : err }, "redrive pass failed"))
        .finally(() => {
          this.running = undefined;
          this.schedule();
        });
    }, delay);
    this.timer.unref();
  }

  /** One pass: re-attempt up to batchSize due notifications. Returns how many were delivered. */
  async tick(): Promise<number> {
    const { ledger, service, svix, metrics, logger, clock } = this.o;
    if ((svix.pausedForSeconds?.() ?? 0) > 0) return 0;
    const due = await ledger.due(clock.now(), this.o.batchSize);
    let delivered = 0;
    for (const record of due) {
      if (this.stopped || (svix.pausedForSeconds?.() ?? 0) > 0) break;
      try {
        await service.relay(record.payload, record.transport, { trigger: "redrive", waitMs: 0, dueOnly: true });
        delivered += 1;
        metrics.redrive.inc({ outcome: "delivered" });
      } catch (error) {
        const code = isAppError(error) ? error.code : "internal";
        metrics.redrive.inc({ outcome: code });
        if (!isAppError(error)) logger.error({ err: error, eventId: record.eventId }, "redrive attempt failed unexpectedly");
      }
    }
    return delivered;
  }
}
