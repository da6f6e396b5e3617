import { randomUUID } from "node:crypto";
import { isDeepStrictEqual } from "node:util";
import type { Logger } from "pino";
import { AppError, isAppError } from "../errors.ts";
import type { Metrics } from "../observability/metrics.ts";
import type { PlatformEvent } from "./event.ts";
import type {
  ApplicationDirectory,
  AttemptRecord,
  AttemptTrigger,
  CallOptions,
  Clock,
  Completion,
  NotificationLedger,
  NotificationRecord,
  SentMessage,
  SvixApp,
  SvixCall,
  SvixGateway,
} from "./ports.ts";
import { appUidFor, idempotencyKeyFor, svixEventIdFor } from "./svixIdentifiers.ts";
import type { Transport } from "./transport.ts";

export interface NotificationServiceOptions {
  ledger: NotificationLedger;
  applications: ApplicationDirectory;
  svix: SvixGateway;
  logger: Logger;
  metrics: Metrics;
  clock: Clock;
  /** Time all Svix calls of one delivery may take, retries included. */
  requestBudgetMs: number;
  /** How long a claim on an event lasts; a crashed owner's claim expires after it. */
  claimTtlMs: number;
  /** How long a duplicate waits for an in-flight delivery of the same event before giving up. */
  inFlightWaitMs: number;
  /** Delay before a redrive may retry a failed notification, doubled per attempt. */
  redriveBaseDelayMs: number;
  redriveMaxDelayMs: number;
}

export interface RelayResult {
  eventId: string;
  status: "delivered";
  /** true when Svix already held the message before this call (no new Svix message). */
  duplicate: boolean;
  svixAppId: string | null;
  svixMessageId: string | null;
}

export interface RelayOptions {
  /** What started this delivery; "ingress" unless said otherwise. */
  trigger?: AttemptTrigger;
  /** How long to wait for a concurrent delivery of the same event (default: inFlightWaitMs). */
  waitMs?: number;
  /** Take over a failed notification only once its nextAttemptAt has passed (redrive). */
  dueOnly?: boolean;
}

const POLL_MS = 50;

/**
 * The core: every entry point (HTTP ingress, redrive, replay) delivers through relay(). It makes
 * one Svix message per event however often, however concurrently, the event arrives.
 */
export class NotificationService {
  private readonly opts: NotificationServiceOptions;
  private readonly appCache = new Map<string, SvixApp>();

  constructor(options: NotificationServiceOptions) {
    this.opts = options;
  }

  async relay(event: PlatformEvent, transport: Transport, options: RelayOptions = {}): Promise<RelayResult> {
    const { ledger, clock } = this.opts;
    const trigger = options.trigger ?? "ingress";
    const claimToken = randomUUID();
    const started = Date.now();
    const deadline = started + (options.waitMs ?? this.opts.inFlightWaitMs);
    if (await ledger.insertClaimed(event, transport, claimToken, this.claimExpiry())) {
      return this.deliver(event, claimToken, trigger);
    }
    for (;;) {
      const existing = await ledger.get(event.id);
      if (!existing) {
        // Deleted between our insert and read (retention): start over as a new event.
        if (await ledger.insertClaimed(event, transport, claimToken, this.claimExpiry())) {
          return this.deliver(event, claimToken, trigger);
        }
        continue;
      }
      if (!isDeepStrictEqual(existing.payload, event)) {
        throw new AppError("event_id_conflict", `Event ${event.id} was already received with a different body`);
      }
      const settled = this.settledOutcome(existing);
      if (settled) return settled;
      const mayTakeOver = existing.status !== "received" || (existing.claimExpiresAt?.getTime() ?? 0) <= clock.now().getTime();
      if (mayTakeOver && (await ledger.takeOver(event.id, claimToken, this.claimExpiry(), clock.now(), { dueOnly: options.dueOnly }))) {
        return this.deliver(existing.payload, claimToken, trigger);
      }
      if (Date.now() >= deadline) {
        throw new AppError("event_in_flight", `Event ${event.id} is being delivered by another request; try again shortly`, {
          retryAfterSeconds: 1,
        });
      }
      await sleep(POLL_MS);
    }
  }

  private settledOutcome(existing: NotificationRecord): RelayResult | undefined {
    if (existing.status === "delivered") {
      this.opts.metrics.duplicates.inc();
      return {
        eventId: existing.eventId,
        status: "delivered",
        duplicate: true,
        svixAppId: existing.svixAppId,
        svixMessageId: existing.svixMessageId,
      };
    }
    if (existing.status === "rejected") {
      throw new AppError("svix_rejected", `Svix rejected event ${existing.eventId} earlier: ${existing.lastError ?? "no reason recorded"}`);
    }
    return undefined;
  }

  private async deliver(event: PlatformEvent, claimToken: string, trigger: AttemptTrigger): Promise<RelayResult> {
    const { ledger, logger, metrics } = this.opts;
    const t0 = performance.now();
    const attempts: AttemptRecord[] = [];
    const call: CallOptions = {
      deadline: Date.now() + this.opts.requestBudgetMs,
      onCall: (c) => attempts.push(toAttempt(c, trigger)),
    };
    let completion: Completion;
    let failure: AppError | undefined;
    let app: SvixApp | undefined;
    let sent: SentMessage | undefined;
    try {
      app = await this.application(event.project, call);
      sent = await this.opts.svix.createMessage(
        {
          appUid: app.uid,
          appName: event.project,
          project: event.project,
          eventType: event.type,
          eventId: svixEventIdFor(event.id),
          idempotencyKey: idempotencyKeyFor(event.project, event.id),
          payload: event,
        },
        call,
      );
      completion = { status: "delivered", attempts, svixAppId: app.id, svixMessageId: sent.messageId ?? undefined };
    } catch (error) {
      failure = isAppError(error) ? error : new AppError("svix_unavailable", "Unexpected failure calling Svix", { cause: error });
      const permanent = !failure.retryable;
      const previous = (await ledger.get(event.id).catch(() => null))?.attempts ?? 0;
      completion = {
        status: permanent ? "rejected" : "failed",
        attempts,
        svixAppId: app?.id,
        errorCode: failure.code,
        error: failure.message,
        nextAttemptAt: permanent ? undefined : this.nextAttemptAt(previous + 1, failure.retryAfterSeconds),
      };
    }
    try {
      await ledger.complete(event.id, claimToken, completion);
    } catch (error) {
      // Svix may hold the message but the ledger does not say so: answer retryable, so the
      // redelivery (deduplicated by Svix's idempotency key) brings the ledger in line.
      metrics.notifications.inc({ outcome: "ledger_error" });
      logger.error({ eventId: event.id, err: error }, "could not record the delivery outcome");
      throw isAppError(error) ? error : new AppError("database_unavailable", "The ledger is unavailable", { cause: error });
    }
    const outcome = failure ? (failure.retryable ? "retryable" : "rejected") : sent?.duplicate ? "duplicate" : "delivered";
    const durationMs = Math.round(performance.now() - t0);
    metrics.notifications.inc({ outcome });
    metrics.svixLatency.observe({ outcome }, durationMs / 1000);
    logger[failure && !failure.retryable ? "warn" : "info"](
      {
        eventId: event.id,
        project: event.project,
        eventType: event.type,
        trigger,
        outcome,
        status: completion.status,
        svixCalls: attempts.length,
        durationMs,
        svixMessageId: completion.svixMessageId,
        errorCode: failure?.code,
        upstreamStatus: failure?.upstreamStatus,
      },
      "notification relayed",
    );
    if (failure) throw failure;
    return {
      eventId: event.id,
      status: "delivered",
      duplicate: outcome === "duplicate",
      svixAppId: completion.svixAppId ?? null,
      svixMessageId: completion.svixMessageId ?? null,
    };
  }

  /** The project's Svix application: memory, then the ledger, then Svix's get-or-create. */
  private async application(project: string, call: CallOptions): Promise<SvixApp> {
    const cached = this.appCache.get(project);
    if (cached) return cached;
    let app = await this.opts.applications.find(project);
    if (!app) {
      app = await this.opts.svix.getOrCreateApplication({ uid: appUidFor(project), name: project, project }, call);
      await this.opts.applications.save(project, app);
    }
    this.appCache.set(project, app);
    return app;
  }

  private claimExpiry(): Date {
    return new Date(this.opts.clock.now().getTime() + this.opts.claimTtlMs);
  }

  private nextAttemptAt(attempts: number, retryAfterSeconds?: number): Date {
    const backoff = Math.min(this.opts.redriveMaxDelayMs, this.opts.redriveBaseDelayMs * 2 ** Math.max(0, attempts - 1));
    const jittered = backoff / 2 + Math.random() * (backoff / 2);
    const delay = Math.max(jittered, (retryAfterSeconds ?? 0) * 1000);
    return new Date(this.opts.clock.now().getTime() + delay);
  }
}

function toAttempt(call: SvixCall, trigger: AttemptTrigger): AttemptRecord {
  const { messageId, ...rest } = call;
  return { trigger, ...rest, svixMessageId: messageId };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
