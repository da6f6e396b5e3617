import { type Request, type Response, Router } from "express";
import { AppError, type ErrorDetail } from "../errors.ts";
import { boundedPageBy } from "./listQuery.ts";
import type { QuarantinedMessage, QuarantineLedger } from "../core/ports/quarantine.ts";

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** The body as text when it is UTF-8, else base64: operators read what Pub/Sub sent either way. */
export function quarantineView(m: QuarantinedMessage) {
  let body: string | null = null;
  let bodyEncoding: "utf8" | "base64" | null = null;
  if (m.body) {
    try {
      body = utf8.decode(m.body);
      bodyEncoding = "utf8";
    } catch {
      body = m.body.toString("base64");
      bodyEncoding = "base64";
    }
  }
  return {
    id: m.id,
    reason: m.reason,
    message: m.message,
    details: m.details,
    eventId: m.eventId ?? null,
    transport: m.transport,
    receivedAt: m.receivedAt,
    bodyBytes: m.bodyBytes,
    bodyTruncated: m.body !== null && m.body.length < m.bodyBytes,
    body,
    bodyEncoding,
    purgedAt: m.purgedAt,
  };
}

export const QUARANTINE_PAGE_MAX_ROWS = 500;

/** Opaque to callers: the arrival time and id of the last message of a page. */
function encodeQuarantineCursor(m: QuarantinedMessage): string {
  return Buffer.from(JSON.stringify([m.receivedAt.toISOString(), m.id])).toString("base64url");
}

function decodeQuarantineCursor(value: string): { receivedAt: Date; id: string } | undefined {
  try {
    const [at, id] = JSON.parse(Buffer.from(value, "base64url").toString("utf8")) as [unknown, unknown];
    const receivedAt = new Date(String(at));
    if (typeof id === "string" && /^[0-9]{1,19}$/.test(id) && !Number.isNaN(receivedAt.getTime()))
      return { receivedAt, id };
  } catch {
    // Reported by the caller.
  }
  return undefined;
}

export function quarantineRouter(options: { quarantine: QuarantineLedger }): Router {
  const router = Router();
  // Paged like GET /notifications: newest first, at most PAGE_MAX_BYTES per answer, a cursor for the rest.
  router.get("/quarantine", async (req: Request, res: Response) => {
    const details: ErrorDetail[] = [];
    for (const key of Object.keys(req.query)) {
      if (key !== "limit" && key !== "cursor")
        details.push({ path: key, message: "is not a known parameter (limit, cursor)" });
    }
    const limit = req.query.limit === undefined ? 50 : Number(req.query.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > QUARANTINE_PAGE_MAX_ROWS) {
      details.push({ path: "limit", message: `must be an integer from 1 to ${QUARANTINE_PAGE_MAX_ROWS}` });
    }
    const { cursor } = req.query;
    const after = typeof cursor === "string" ? decodeQuarantineCursor(cursor) : undefined;
    if (cursor !== undefined && !after) details.push({ path: "cursor", message: "is not a cursor this API returned" });
    if (details.length > 0) throw new AppError("invalid_query", "Invalid query parameters", { details });
    // One row more than asked: whether another page follows.
    const messages = await options.quarantine.list({ limit: limit + 1, after });
    res.json(boundedPageBy(messages, limit, quarantineView, encodeQuarantineCursor));
  });
  return router;
}
