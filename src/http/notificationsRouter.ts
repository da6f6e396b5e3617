import type { Clock } from "../core/ports/clock.ts";
import express, { type NextFunction, type Request, type Response, Router } from "express";
import { AppError } from "../errors.ts";
import { IDENTIFIER_RULE, isStorableIdentifier } from "../core/event.ts";
import type { IngestService, QuarantineOutcome } from "../ingest/ingestService.ts";
import type { NotificationService } from "../core/notificationService.ts";
import type { RelayOutcome } from "../core/relayOutcome.ts";
import type { DeliveryEventLedger, DeliveryEventView } from "../core/ports/deliveryEvents.ts";
import type { AttemptView, NotificationLedger, NotificationSummary } from "../core/ports/ledger.ts";
import { isPubsub } from "../core/transport.ts";
import { admission, type AdmissionOptions } from "./admission.ts";
import { traceIdOf } from "../observability/tracing.ts";
import { jsonOnly } from "./jsonOnly.ts";
import { compressedBody, hasBody, identityEncoded } from "./requestBody.ts";
import { boundedPage, parseListQuery } from "./listQuery.ts";

export interface NotificationsRouterOptions {
  service: NotificationService;
  ingest: IngestService;
  ledger: NotificationLedger;
  deliveryEvents: DeliveryEventLedger;
  bodyLimitBytes: number;
  admission: AdmissionOptions;
  clock: Clock;
}

/**
 * JSON only, in UTF-8, except that an unwrapped Pub/Sub push (recognised by its x-goog-pubsub
 * headers) is read whatever its content type: refusing it would only send it round Pub/Sub forever.
 */
function requireJson(req: Request, _res: Response, next: NextFunction): void {
  if (!hasBody(req)) return next(new AppError("invalid_json", "The request body is empty; send the event as JSON"));
  if (!identityEncoded(req)) return next(compressedBody());
  if (req.header("x-goog-pubsub-message-id") !== undefined) return next();
  if (!req.is(["application/json", "application/*+json"])) {
    return next(
      new AppError(
        "unsupported_media_type",
        `Content-Type ${req.header("content-type") ?? "(none)"} is not supported; send application/json`,
      ),
    );
  }
  const charset = /;\s*charset=("?)([^";]+)\1/i.exec(req.header("content-type") ?? "")?.[2]?.toLowerCase();
  if (charset && charset !== "utf-8" && charset !== "utf8")
    return next(new AppError("unsupported_media_type", "The charset is not supported; send UTF-8 JSON"));
  next();
}

export function notificationView(n: NotificationSummary, attempts?: AttemptView[]) {
  return {
    eventId: n.eventId,
    project: n.project,
    type: n.type,
    status: n.status,
    attemptCount: n.attemptCount,
    ...(attempts ? { attempts } : {}),
    svixAppUid: n.svixAppUid,
    svixMessageId: n.svixMessageId,
    lastError: n.lastErrorCode ? { code: n.lastErrorCode, message: n.lastError } : null,
    transport: n.transport,
    nextAttemptAt: n.nextAttemptAt,
    payloadPurgedAt: n.payloadPurgedAt,
    // The trace it arrived in (OpenTelemetry; null when tracing was off): find it in Cloud Trace.
    traceId: traceIdOf(n.traceContext),
    createdAt: n.createdAt,
    updatedAt: n.updatedAt,
    deliveredAt: n.deliveredAt,
  };
}

/** What Svix reported about delivering it to the customer's endpoints. */
export function deliveryEventView(e: DeliveryEventView) {
  return {
    type: e.type,
    endpointId: e.endpointId,
    responseStatus: e.responseStatus,
    occurredAt: e.occurredAt,
    receivedAt: e.receivedAt,
    msgId: e.msgId,
  };
}

/** An internal caller's status for an outcome; Pub/Sub gets 200 for anything recorded. */
function statusFor(outcome: RelayOutcome | QuarantineOutcome): number {
  if (outcome.status === "delivered") return 200;
  if (outcome.status === "queued" || outcome.status === "accepted") return 202;
  return 422;
}

/** RFC 7240: `Prefer: respond-async` (among other preferences) asks for the answer on commit. */
function prefersAsync(req: Request): boolean {
  return /(?:^|,)\s*respond-async\s*(?:[;,]|$)/i.test(req.header("prefer") ?? "");
}

/** Outcomes Svix will not deliver by itself also carry the error model's `error`. */
function answer(res: Response, req: Request, status: number, outcome: RelayOutcome | QuarantineOutcome): void {
  const body: Record<string, unknown> = { data: outcome };
  if (status >= 400 && outcome.status !== "quarantined" && outcome.lastError) {
    const code = outcome.status === "rejected" ? "svix_rejected" : "delivery_failed";
    body.error = { code, message: outcome.lastError.message, details: [], requestId: String(req.id ?? "") };
  }
  res.status(status).json(body);
}

export function notificationsRouter(options: NotificationsRouterOptions): Router {
  const router = Router();
  // The raw bytes: the ingest service reads them strictly (UTF-8, exact JSON, bounded) and a
  // quarantined Pub/Sub message keeps them as they came.
  const raw = express.raw({ limit: options.bodyLimitBytes, type: () => true, inflate: false });

  router.post("/notifications", admission(options.admission), requireJson, raw, async (req: Request, res: Response) => {
    const fromPubsub = req.credential?.kind === "pubsub";
    const respondAsync = prefersAsync(req);
    const { transport, outcome } = await options.ingest.accept({
      body: req.body as Buffer,
      header: (name) => req.header(name),
      fromPubsub,
      respondAsync,
    });
    if (respondAsync && outcome.status === "accepted") res.setHeader("preference-applied", "respond-async");
    // Store and forward: Pub/Sub is acknowledged for everything the ledger (or the quarantine) now owns.
    answer(res, req, isPubsub(transport) || fromPubsub ? 200 : statusFor(outcome), outcome);
  });

  router.get("/notifications", async (req: Request, res: Response) => {
    const filter = parseListQuery(req.query);
    // One row more than asked: whether another page follows.
    const rows = await options.ledger.list({ ...filter, limit: filter.limit + 1 });
    res.json(boundedPage(rows, filter.limit, (n) => notificationView(n)));
  });

  router.get("/notifications/:eventId", async (req: Request, res: Response) => {
    const eventId = eventIdParam(req);
    const record = await options.ledger.summary(eventId);
    if (!record) throw new AppError("not_found", `No notification for event ${eventId}`);
    const [attempts, deliveryEvents] = await Promise.all([
      options.ledger.attemptsOf(eventId),
      options.deliveryEvents.forNotification(eventId),
    ]);
    res.json({
      data: { ...notificationView(record, attempts), deliveryEvents: deliveryEvents.map(deliveryEventView) },
    });
  });

  // Operators: deliver a queued, failed or rejected notification now, e.g. after fixing what Svix refused.
  router.post("/notifications/:eventId/replay", jsonOnly({ bodyless: true }), async (req: Request, res: Response) => {
    const outcome = await options.service.replay(eventIdParam(req));
    answer(res, req, statusFor(outcome), outcome);
  });

  // Operators: an erasure request for one notification's personal data, now.
  router.delete(
    "/notifications/:eventId/payload",
    jsonOnly({ bodyless: true }),
    async (req: Request, res: Response) => {
      const eventId = eventIdParam(req);
      const result = await options.ledger.erasePayload(eventId, new Date(options.clock.now()));
      if (result === "not_found") throw new AppError("not_found", `No notification for event ${eventId}`);
      if (result === "in_flight")
        throw new AppError("event_in_flight", `Event ${eventId} is being delivered right now; try again shortly`, {
          retryAfterSeconds: 1,
        });
      const record = await options.ledger.summary(eventId);
      res.json({ data: record ? notificationView(record) : { eventId } });
    },
  );

  return router;
}

function eventIdParam(req: Request): string {
  const eventId = String(req.params.eventId);
  if (!isStorableIdentifier(eventId)) {
    throw new AppError("invalid_query", "Invalid event id", {
      details: [{ path: "eventId", message: `must be 1 to 256 characters and ${IDENTIFIER_RULE}` }],
    });
  }
  return eventId;
}
