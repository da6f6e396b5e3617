import express, { type NextFunction, type Request, type Response, Router } from "express";
import { AppError } from "../errors.ts";
import { IDENTIFIER_RULE, isStorableIdentifier, parseEvent } from "../notifications/event.ts";
import type { NotificationService } from "../notifications/notificationService.ts";
import type { AttemptView, NotificationLedger, NotificationStatus, NotificationSummary } from "../notifications/ports.ts";
import { decodeBody } from "../pubsub/pushEnvelope.ts";

const STATUSES: readonly NotificationStatus[] = ["received", "delivered", "failed", "rejected"];

export interface NotificationsRouterOptions {
  service: NotificationService;
  ledger: NotificationLedger;
  bodyLimitBytes: number;
}

function hasBody(req: Request): boolean {
  return req.header("transfer-encoding") !== undefined || Number(req.header("content-length") ?? 0) > 0;
}

/**
 * JSON only, except that an unwrapped Pub/Sub push (recognised by its x-goog-pubsub headers) is
 * read as JSON whatever its content type: refusing it would only send it round Pub/Sub forever.
 */
function requireJson(req: Request, _res: Response, next: NextFunction): void {
  if (!hasBody(req)) return next(new AppError("invalid_json", "The request body is empty; send the event as JSON"));
  if (req.header("x-goog-pubsub-message-id") !== undefined || req.is(["application/json", "application/*+json"])) return next();
  next(new AppError("unsupported_media_type", `Content-Type ${req.header("content-type") ?? "(none)"} is not supported; send application/json`));
}

export function notificationView(n: NotificationSummary, attempts?: AttemptView[]) {
  return {
    eventId: n.eventId,
    project: n.project,
    type: n.type,
    status: n.status,
    attempts: attempts ?? n.attempts,
    ...(attempts ? { attemptCount: n.attempts } : {}),
    svixAppId: n.svixAppId,
    svixMessageId: n.svixMessageId,
    lastError: n.lastErrorCode ? { code: n.lastErrorCode, message: n.lastError } : null,
    transport: n.transport,
    nextAttemptAt: n.nextAttemptAt,
    createdAt: n.createdAt,
    updatedAt: n.updatedAt,
    deliveredAt: n.deliveredAt,
  };
}

function parseListQuery(query: Request["query"]) {
  const details: { path: string; message: string }[] = [];
  const { status, project, limit } = query;
  if (status !== undefined && !STATUSES.includes(status as NotificationStatus)) {
    details.push({ path: "status", message: `must be one of ${STATUSES.join(", ")}` });
  }
  if (project !== undefined && (typeof project !== "string" || !isStorableIdentifier(project))) {
    details.push({ path: "project", message: `must be 1 to 256 characters and ${IDENTIFIER_RULE}` });
  }
  const n = limit === undefined ? 50 : Number(limit);
  if (!Number.isInteger(n) || n < 1 || n > 500) details.push({ path: "limit", message: "must be an integer from 1 to 500" });
  if (details.length) throw new AppError("invalid_query", "Invalid query parameters", { details });
  return { status: status as NotificationStatus | undefined, project: project as string | undefined, limit: n };
}

export function notificationsRouter(options: NotificationsRouterOptions): Router {
  const router = Router();
  const json = express.json({ limit: options.bodyLimitBytes, strict: true, type: () => true });

  router.post("/notifications", requireJson, json, async (req: Request, res: Response) => {
    const { event: candidate, transport } = decodeBody({ body: req.body, header: (name) => req.header(name) });
    const event = parseEvent(candidate);
    const result = await options.service.relay(event, transport);
    res.status(result.duplicate ? 200 : 202).json({ data: result });
  });

  router.get("/notifications", async (req: Request, res: Response) => {
    const records = await options.ledger.list(parseListQuery(req.query));
    res.json({ data: records.map((n) => notificationView(n)) });
  });

  router.get("/notifications/:eventId", async (req: Request, res: Response) => {
    const eventId = eventIdParam(req);
    const record = await options.ledger.get(eventId);
    if (!record) throw new AppError("not_found", `No notification for event ${eventId}`);
    res.json({ data: notificationView(record, await options.ledger.attemptsOf(eventId)) });
  });

  // Operators: deliver a failed or rejected notification now, e.g. after fixing what Svix refused.
  router.post("/notifications/:eventId/replay", async (req: Request, res: Response) => {
    const result = await options.service.replay(eventIdParam(req));
    res.status(202).json({ data: result });
  });

  return router;
}

function eventIdParam(req: Request): string {
  const eventId = String(req.params.eventId);
  if (!isStorableIdentifier(eventId)) {
    throw new AppError("invalid_query", "Invalid event id", { details: [{ path: "eventId", message: `must be 1 to 256 characters and ${IDENTIFIER_RULE}` }] });
  }
  return eventId;
}
