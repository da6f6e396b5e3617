import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { AppError, isAppError } from "../errors.ts";
import type { Metrics } from "../observability/metrics.ts";
import { canonicalJson } from "./canonicalJson.ts";
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
const APP_CACHE_MAX = 10_000;

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
    const deadline = Date.now() + (options.waitMs ?? this.opts.inFlightWaitMs);
    // Whether a row for this id is known (and its body already compared with ours).
    let known = false;
    for (;;) {
      // Insert only while no row is known: a poll for an in-flight delivery is one read.
      if (!known && (await ledger.insertClaimed(event, transport, claimToken, this.claimExpiry()))) {
        return this.deliver(event, claimToken, trigger, 0);
      }
      const existing = await ledger.get(event.id);
      if (existing) {
        if (!known && canonicalJson(existing.payload) !== canonicalJson(event)) {
          throw new AppError("event_id_conflict", `Event ${event.id} was already received with a different body`);
        }
        known = true;
        const settled = this.settledOutcome(existing);
        if (settled) return settled;
        const mayTakeOver = existing.status !== "received" || (existing.claimExpiresAt?.getTime() ?? 0) <= clock.now().getTime();
        if (mayTakeOver && (await ledger.takeOver(event.id, claimToken, this.claimExpiry(), clock.now(), { dueOnly: options.dueOnly }))) {
          return this.deliver(existing.payload, claimToken, trigger, existing.failures);
        }
      } else {
        known = false;
      }
      // Either another delivery holds the event, or its row vanished between our insert and read
      // (retention): wait a little and look again, within the wait budget.
      if (Date.now() >= deadline) {
        throw new AppError("event_in_flight", `Event ${event.id} is being delivered by another request; try again shortly`, {
          retryAfterSeconds: 1,
        });
      }
      await sleep(POLL_MS);
    }
  }

  /**
   * Operator replay: delivers a failed or rejected notification now (after fixing what made Svix
   * refuse it), whatever its backoff. A delivered one is refused: Svix already holds it.
   */
  async replay(eventId: string): Promise<RelayResult> {
    const { ledger, clock } = this.opts;
    const record = await ledger.get(eventId);
    if (!record) throw new AppError("not_found", `No notification for event ${eventId}`);
    if (record.status === "delivered") {
      throw new AppError("already_delivered", `Event ${eventId} is already delivered (Svix message ${record.svixMessageId ?? "unknown"}); resend it from Svix`);
    }
    const claimToken = randomUUID();
    if (!(await ledger.takeOver(eventId, claimToken, this.claimExpiry(), clock.now(), { includeRejected: true }))) {
      throw new AppError("event_in_flight", `Event ${eventId} is being delivered right now; try again shortly`, { retryAfterSeconds: 1 });
    }
    return this.deliver(record.payload, claimToken, "replay", record.failures);
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

  /** Sends a claimed event to Svix and records the outcome. `failures`: earlier failed deliveries (backoff). */
  private async deliver(event: PlatformEvent, claimToken: string, trigger: AttemptTrigger, failures: number): Promise<RelayResult> {
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
      completion = {
        status: permanent ? "rejected" : "failed",
        attempts,
        svixAppId: app?.id,
        errorCode: failure.code,
        error: failure.message,
        nextAttemptAt: permanent ? undefined : this.nextAttemptAt(failures + 1, failure.retryAfterSeconds),
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
    // Bounded: a caller inventing project ids must not grow memory without limit.
    if (this.appCache.size >= APP_CACHE_MAX) this.appCache.delete(this.appCache.keys().next().value!);
    this.appCache.set(project, app);
    return app;
  }

  private claimExpiry(): Date {
    return new Date(this.opts.clock.now().getTime() + this.opts.claimTtlMs);
  }

  /** When a redrive may try again after the n-th failed delivery: exponential, jittered, never inside a Retry-After. */
  private nextAttemptAt(failures: number, retryAfterSeconds?: number): Date {
    const backoff = Math.min(this.opts.redriveMaxDelayMs, this.opts.redriveBaseDelayMs * 2 ** Math.min(30, Math.max(0, failures - 1)));
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
