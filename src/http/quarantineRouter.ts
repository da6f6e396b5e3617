import { type Request, type Response, Router } from "express";
import { AppError } from "../errors.ts";
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

export function quarantineRouter(options: { quarantine: QuarantineLedger }): Router {
  const router = Router();
  router.get("/quarantine", async (req: Request, res: Response) => {
    const limit = req.query.limit === undefined ? 50 : Number(req.query.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 500) {
      throw new AppError("invalid_query", "Invalid query parameters", {
        details: [{ path: "limit", message: "must be an integer from 1 to 500" }],
      });
    }
    const messages = await options.quarantine.list({ limit });
    res.json({ data: messages.map(quarantineView) });
  });
  return router;
}
