import { randomUUID } from "node:crypto";
import type { NextFunction, Request, RequestHandler, Response } from "express";
import type { Logger } from "pino";
import { requestLogLevel } from "./logger.ts";

declare module "express-serve-static-core" {
  interface Request {
    /** Our own request id, unique, also sent back as x-request-id. */
    id?: string;
  }
}

const CLIENT_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const QUIET = new Set(["/healthz", "/readyz", "/metrics"]);

/**
 * One line per request, written when the answer is finished, at the level its outcome deserves
 * (requestLogLevel). Only method and path (a query string may carry a token, a body personal
 * data). A caller's x-request-id is kept as clientRequestId; ours is always a fresh UUID. Written
 * for the hot path: no child logger per request, nothing built for a line that is not written.
 */
export function requestLogging(logger: Logger): RequestHandler {
  return (req: Request, res: Response, next: NextFunction): void => {
    const id = randomUUID();
    req.id = id;
    res.setHeader("x-request-id", id);
    const path = req.url.split("?", 1)[0]!;
    if (QUIET.has(path)) return next();
    const started = performance.now();
    res.once("finish", () => {
      const err = (res as Response & { err?: Error }).err;
      const level = requestLogLevel(req, res, err);
      if (level === "silent" || !logger.isLevelEnabled(level)) return;
      const given = req.headers["x-request-id"];
      logger[level](
        {
          req: { id, method: req.method, path },
          res: { statusCode: res.statusCode },
          responseTime: Math.round(performance.now() - started),
          ...(typeof given === "string" && CLIENT_REQUEST_ID.test(given) ? { clientRequestId: given } : {}),
          ...(err ? { err } : {}),
        },
        err ? `request failed: ${res.statusCode} ${(err as { code?: string }).code ?? ""}`.trim() : "request completed",
      );
    });
    next();
  };
}
