import type { Message, Subscription } from "@google-cloud/pubsub";
import type { Logger } from "pino";
import { isAppError } from "../errors.ts";
import type { IngestService } from "../ingest/ingestService.ts";
import type { Metrics } from "../observability/metrics.ts";

export interface PullWorkerOptions {
  /** The subscription, opened with its flow control (outstanding messages and bytes). */
  subscription: Subscription;
  /** Full name, projects/<p>/subscriptions/<s>: recorded with every notification. */
  subscriptionName: string;
  ingest: IngestService;
  logger: Logger;
  metrics: Metrics;
}

/**
 * Streaming pull for deployments without a public endpoint. Each message goes through the same
 * path as a push (decode, validate, relay) and is acknowledged once the ledger (or the
 * quarantine) owns it, nacked when nothing could be recorded — Pub/Sub then redelivers it, to
 * this worker or another. On stop it takes no new message, finishes the ones in hand, and
 * nacks whatever the client library still holds, so nothing stays leased to a dead worker.
 */
export class PullWorker {
  private readonly options: PullWorkerOptions;
  private readonly inFlight = new Set<Promise<void>>();
  private stopping = false;

  constructor(options: PullWorkerOptions) {
    this.options = options;
  }

  start(): void {
    const { subscription, logger } = this.options;
    subscription.on("message", (message: Message) => {
      if (this.stopping) {
        // Stopping: hand it straight back instead of starting work that may be cut short.
        message.nack();
        return;
      }
      const work = this.handle(message).finally(() => this.inFlight.delete(work));
      this.inFlight.add(work);
    });
    // The library reconnects by itself after transient stream errors; say so once per error.
    subscription.on("error", (error: unknown) => logger.error({ err: error }, "Pub/Sub subscription error"));
    logger.info({ subscription: this.options.subscriptionName }, "pulling from Pub/Sub");
  }

  /** Stops taking messages, waits for those in hand (acked or nacked), and closes the stream. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.allSettled([...this.inFlight]);
    await this.options.subscription.close();
  }

  get handling(): number {
    return this.inFlight.size;
  }

  private async handle(message: Message): Promise<void> {
    const { ingest, metrics, logger } = this.options;
    try {
      const { outcome } = await ingest.accept({
        body: message.data,
        pulled: {
          kind: "pull",
          pubsubMessageId: message.id,
          subscription: this.options.subscriptionName,
          publishTime: message.publishTime?.toISOString(),
          deliveryAttempt: message.deliveryAttempt || undefined,
        },
        attributes: message.attributes,
      });
      message.ack();
      metrics.pulled.inc({ result: "acked", status: outcome.status });
    } catch (error) {
      // Nothing was recorded (the database is down, say): Pub/Sub keeps it and redelivers.
      message.nack();
      metrics.pulled.inc({ result: "nacked", status: isAppError(error) ? error.code : "internal" });
      if (!isAppError(error))
        logger.error({ err: error, pubsubMessageId: message.id }, "pulled message failed unexpectedly");
      else
        logger.warn(
          { code: error.code, pubsubMessageId: message.id },
          "pulled message not recorded; nacked for redelivery",
        );
    }
  }
}
