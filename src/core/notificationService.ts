import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { AppError, isAppError } from "../errors.ts";
import type { Metrics } from "../observability/metrics.ts";
import { context, trace } from "@opentelemetry/api";
import { inLeafSpan, inSpan, linkTo, SpanKind, storedContext, traceparentOf } from "../observability/tracing.ts";
import { BackgroundDeliveries } from "./backgroundDeliveries.ts";
import { isEventShaped, type PlatformEvent } from "./event.ts";
import { eventDigest } from "./eventDigest.ts";
import type { Clock } from "./ports/clock.ts";
import type {
  AttemptRecord,
  AttemptTrigger,
  Claim,
  Completion,
  NotificationLedger,
  NotificationRecord,
} from "./ports/ledger.ts";
import type { SvixGateway } from "./ports/svix.ts";
import {
  accepted,
  completionAfterFailure,
  endToEndSeconds,
  type RelayOutcome,
  toAttempt,
  transportLabel,
} from "./relayOutcome.ts";
import { appUidFor, idempotencyKeyFor, svixEventIdFor } from "./svixIdentifiers.ts";
import type { Transport } from "./transport.ts";
import { assertSameBody, settledOutcome } from "./knownEvent.ts";

export interface NotificationServiceOptions {
  ledger: NotificationLedger;
  svix: SvixGateway;
  logger: Logger;
  metrics: Metrics;
  clock: Clock;
  /** Time all Svix calls of one delivery may take, retries included. */
  requestBudgetMs: number;
  /** How long a claim on an event lasts; a crashed owner's claim expires after it. */
  claimTtlMs: number;
  /** How long an internal caller's duplicate waits for an in-flight delivery of the same event. */
  inFlightWaitMs: number;
  /** Delay before the dispatcher retries after a failed delivery, doubled per failure. */
  retryBaseDelayMs: number;
  retryMaxDelayMs: number;
  /** After this long since arrival, a notification Svix keeps failing on is marked failed. */
  retryHorizonMs: number;
  /** Told the type of every delivered event (keeps Svix's event-type catalog in step). */
  eventTypes?: { seen(type: string): void };
  /** Asked about every new event before it is recorded; throws to refuse it (an undeclared type). */
  eventTypePolicy?: { admit(event: PlatformEvent): void };
  /**
   * Told when a delivery ends queued and due at once (a call that hung through Svix's recovery):
   * the dispatcher should not sleep out its pause before sending it.
   */
  onDueNow?: () => void;
}

export interface RelayOptions {
  /** How long to wait for a concurrent delivery of the same event to settle (default: inFlightWaitMs). */
  waitMs?: number;
  /**
   * on_commit: answer once the ledger owns the event (`accepted`) and make the Svix call after,
   * in this process, under the same claim (Pub/Sub; internal callers with Prefer: respond-async).
   * on_delivery (default): answer with what Svix said.
   */
  respond?: "on_commit" | "on_delivery";
}

const UNSENDABLE = "The stored payload is not an event (no id, project or type): it cannot be sent; replay is refused";

/** The ledger writes as spans: PostgreSQL (or PGlite, PostgreSQL in-process). */
const LEDGER_WRITE = {
  kind: SpanKind.CLIENT,
  attributes: { "db.system.name": "postgresql", "db.collection.name": "notifications" },
};

/**
 * The core: every entry point (HTTP ingress, the pull worker, the dispatcher, operator replay)
 * delivers through this service. It makes one Svix message per event however often, however
 * concurrently, the event arrives, and once an event is in the ledger it is never dropped:
 * what Svix does not take now is queued for the dispatcher.
 */
export class NotificationService {
  private readonly options: NotificationServiceOptions;
  /** Deliveries carried on after an answer on commit (drained at shutdown). */
  private readonly background: BackgroundDeliveries;

  constructor(options: NotificationServiceOptions) {
    this.options = options;
    this.background = new BackgroundDeliveries({
      ledger: options.ledger,
      logger: options.logger,
      clock: options.clock,
    });
  }

  /** Resolves once the deliveries made after an answer have ended (tests; a caller that must see the outcome). */
  idle(): Promise<void> {
    return this.background.idle();
  }

  /**
   * Shutdown: lets the deliveries made after an answer finish, up to timeoutMs, and hands back
   * the claims of those that could not, due at once, for another instance to send.
   */
  stop(timeoutMs: number): Promise<{ finished: number; released: number }> {
    return this.background.drain(timeoutMs);
  }

  /** Records a new event and delivers it now when Svix may be called, or queues it. */
  async relay(event: PlatformEvent, transport: Transport, options: RelayOptions = {}): Promise<RelayOutcome> {
    const { ledger, svix, clock } = this.options;
    // Before anything is recorded: a refused event leaves no row for the dispatcher to deliver.
    this.options.eventTypePolicy?.admit(event);
    const payloadDigest = eventDigest(event);
    const now = clock.now();
    // Store and forward: while Svix has asked this instance to wait, the circuit is open, the
    // pace allows no call now or every place for a call is taken, an event is handed straight
    // to the dispatcher: one write, no call.
    const waitMs = svix.waitMs() || (svix.saturated() ? 1 : 0);
    const claim = this.newClaim();
    // The trace it arrived in goes with it: the dispatcher's and a replay's spans join it.
    const traceContext = traceparentOf(trace.getActiveSpan());
    const existing = await inLeafSpan("ledger insert", LEDGER_WRITE, () =>
      ledger.insert(
        waitMs > 0
          ? { event, transport, payloadDigest, status: "queued", nextAttemptAt: new Date(now + waitMs), traceContext }
          : {
              event,
              transport,
              payloadDigest,
              status: "received",
              claimToken: claim.token,
              claimExpiresAt: claim.expiresAt,
              traceContext,
            },
      ),
    );
    if (!existing) {
      if (waitMs > 0) return this.queuedAtOnce(event, transport, new Date(now + waitMs));
      const delivery = this.deliver(event, claim.token, "ingress", {
        failures: 0,
        createdAt: new Date(now),
        transport,
      });
      if (options.respond !== "on_commit") return delivery;
      // The ledger owns it: the caller is answered now, the Svix call goes on under the claim.
      this.background.add(delivery, { eventId: event.id, claimToken: claim.token });
      return accepted(event);
    }
    await assertSameBody(ledger, existing, event, payloadDigest);
    return settledOutcome(ledger, this.options.metrics, existing, options.waitMs ?? this.options.inFlightWaitMs);
  }

  /** The dispatcher's delivery of a notification it claimed with claimToken (never one without payload). */
  dispatch(
    record: NotificationRecord & { payload: PlatformEvent },
    claimToken: string,
    options: { reserved?: boolean } = {},
  ): Promise<RelayOutcome> {
    // In the trace the event arrived in: one trace from the publisher to Svix, queue or not.
    return inSpan(
      "relay dispatch",
      {
        attributes: { "gigs.event.id": record.eventId, "gigs.project": record.project, "gigs.event.type": record.type },
      },
      storedContext(record.traceContext),
      () =>
        this.deliver(record.payload, claimToken, "dispatch", {
          failures: record.failures,
          createdAt: record.createdAt,
          transport: record.transport,
          reserved: options.reserved,
        }),
    );
  }

  /**
   * A claimed notification whose stored payload is no event (JSON null, not an object, no id,
   * project or type: a row written by hand, or by a bug): it can never be sent, so it is marked
   * failed, saying why, instead of being claimed again every CLAIM_TTL_MS.
   */
  async failUnsendable(record: NotificationRecord, claimToken: string): Promise<void> {
    await this.options.ledger.complete(record.eventId, claimToken, {
      status: "failed",
      attempts: [],
      countsAsFailure: false,
      errorCode: "invalid_event",
      error: UNSENDABLE,
    });
    this.options.metrics.notifications.inc({ outcome: "failed" });
    this.options.logger.warn(
      { eventId: record.eventId, project: record.project },
      "notification failed: its stored payload is not an event",
    );
  }

  /**
   * Operator replay: delivers a queued, failed or rejected notification now (after fixing what
   * made Svix refuse it), whatever its backoff; while the circuit is open it may be the probe.
   * A delivered one is refused: Svix already holds it.
   */
  async replay(eventId: string): Promise<RelayOutcome> {
    const { ledger, clock } = this.options;
    const record = await ledger.get(eventId);
    if (!record) throw new AppError("not_found", `No notification for event ${eventId}`);
    if (record.status === "delivered") {
      throw new AppError(
        "already_delivered",
        `Event ${eventId} is already delivered (Svix message ${record.svixMessageId ?? "unknown"}); resend it from Svix`,
      );
    }
    if (record.payload === null) {
      throw new AppError(
        "payload_purged",
        `The payload of event ${eventId} was erased on ${record.payloadPurgedAt?.toISOString() ?? "an earlier date"} (personal-data retention); it cannot be replayed`,
      );
    }
    const payload = record.payload;
    if (!isEventShaped(payload)) throw new AppError("invalid_event", `Event ${eventId}: ${UNSENDABLE}`);
    const claim = this.newClaim();
    if (!(await ledger.claimForReplay(eventId, claim, new Date(clock.now())))) {
      throw new AppError("event_in_flight", `Event ${eventId} is being delivered right now; try again shortly`, {
        retryAfterSeconds: 1,
      });
    }
    // A span of its own (in the operator's request), linked to the trace the event arrived in.
    return inSpan(
      "relay replay",
      {
        attributes: { "gigs.event.id": record.eventId, "gigs.project": record.project, "gigs.event.type": record.type },
        links: linkTo(record.traceContext),
      },
      context.active(),
      () =>
        this.deliver(payload, claim.token, "replay", {
          failures: record.failures,
          createdAt: record.createdAt,
          transport: record.transport,
          probe: true,
        }),
    );
  }

  private newClaim(): Claim {
    return { token: randomUUID(), expiresAt: new Date(this.options.clock.now() + this.options.claimTtlMs) };
  }

  private queuedAtOnce(event: PlatformEvent, transport: Transport, nextAttemptAt: Date): RelayOutcome {
    this.options.metrics.notifications.inc({ outcome: "queued" });
    this.options.logger.info(
      {
        eventId: event.id,
        project: event.project,
        eventType: event.type,
        trigger: "ingress",
        transport: transport.kind,
        outcome: "queued",
        svixCalls: 0,
      },
      "notification queued: Svix asked to wait",
    );
    return {
      eventId: event.id,
      status: "queued",
      duplicate: false,
      svixAppUid: null,
      svixMessageId: null,
      nextAttemptAt,
      lastError: null,
    };
  }

  /** Sends a claimed event to Svix and records the outcome. */
  private async deliver(
    event: PlatformEvent,
    claimToken: string,
    trigger: AttemptTrigger,
    history: { failures: number; createdAt: Date; transport: Transport; probe?: boolean; reserved?: boolean },
  ): Promise<RelayOutcome> {
    const { ledger, logger, metrics, svix } = this.options;
    const t0 = performance.now();
    const t0Clock = this.options.clock.now();
    const attempts: AttemptRecord[] = [];
    let appUid = "";
    let completion: Completion;
    let failure: AppError | undefined;
    let duplicate = false;
    let acceptedAt = 0;
    try {
      appUid = appUidFor(event.project);
      const sent = await svix.createMessage(
        {
          appUid,
          appName: event.project,
          project: event.project,
          eventType: event.type,
          eventId: svixEventIdFor(event.id),
          idempotencyKey: idempotencyKeyFor(event.project, event.id),
          payload: event,
        },
        {
          deadline: this.options.clock.now() + this.options.requestBudgetMs,
          onCall: (c) => attempts.push(toAttempt(c, trigger)),
          probe: history.probe,
          reserved: history.reserved,
        },
      );
      duplicate = sent.duplicate;
      acceptedAt = this.options.clock.now();
      completion = {
        status: "delivered",
        countsAsFailure: false,
        attempts,
        svixAppUid: appUid,
        svixMessageId: sent.messageId ?? undefined,
      };
    } catch (error) {
      if (!isAppError(error)) {
        // A bug or a row the code cannot handle, not Svix: it counts as a failed delivery (backoff,
        // then the retry horizon, then failed), and says so once per attempt, with its cause.
        logger.error({ err: error, eventId: event.id, trigger }, "delivery failed unexpectedly");
      }
      failure = isAppError(error)
        ? error
        : new AppError("internal", "The delivery failed unexpectedly (see the relay's log)", { cause: error });
      completion = completionAfterFailure(
        failure,
        attempts,
        { ...history, startedAt: t0Clock },
        {
          now: this.options.clock.now(),
          retryHorizonMs: this.options.retryHorizonMs,
          retry: { baseDelayMs: this.options.retryBaseDelayMs, maxDelayMs: this.options.retryMaxDelayMs },
          svix: this.options.svix,
        },
      );
    }
    try {
      // No span of its own: the span around the delivery (the ingest's, or the dispatcher's)
      // covers it, and a fourth span per event cost tracing a quarter more.
      await ledger.complete(event.id, claimToken, completion);
    } catch (error) {
      // Svix may hold the message but the ledger does not say so: the caller gets a retryable
      // error; the claim expires and the dispatcher (or a redelivery) tries again, deduplicated
      // by Svix's idempotency key.
      metrics.notifications.inc({ outcome: "ledger_error" });
      logger.error({ eventId: event.id, err: error }, "could not record the delivery outcome");
      throw isAppError(error)
        ? error
        : new AppError("database_unavailable", "The ledger is unavailable", { cause: error });
    }
    if (completion.status === "delivered") this.options.eventTypes?.seen(event.type);
    if (completion.status === "queued" && (completion.nextAttemptAt?.getTime() ?? 0) <= this.options.clock.now())
      this.options.onDueNow?.();
    const outcome = completion.status === "delivered" && duplicate ? "duplicate" : completion.status;
    const durationMs = Math.round(performance.now() - t0);
    metrics.notifications.inc({ outcome });
    if (attempts.length > 0) metrics.svixLatency.observe({ outcome }, durationMs / 1000);
    // Not for a duplicate (Svix's 409): an earlier call reached Svix at a time we do not know.
    if (outcome === "delivered") {
      metrics.endToEnd.observe(
        { transport: transportLabel(history.transport) },
        endToEndSeconds(history.transport, history.createdAt, acceptedAt),
      );
    }
    logger[completion.status === "rejected" || completion.status === "failed" ? "warn" : "info"](
      {
        eventId: event.id,
        project: event.project,
        eventType: event.type,
        trigger,
        outcome,
        svixCalls: attempts.length,
        durationMs,
        svixMessageId: completion.svixMessageId,
        errorCode: failure?.code,
        upstreamStatus: failure?.upstreamStatus,
        nextAttemptAt: completion.nextAttemptAt,
      },
      "notification relayed",
    );
    return {
      eventId: event.id,
      status: completion.status,
      duplicate,
      svixAppUid: completion.svixAppUid ?? null,
      svixMessageId: completion.svixMessageId ?? null,
      nextAttemptAt: completion.nextAttemptAt ?? null,
      lastError: failure ? { code: failure.code, message: failure.message } : null,
    };
  }
}
