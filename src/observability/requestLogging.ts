import { randomUUID } from "node:crypto";
import type { NextFunction, Request, RequestHandler, Response } from "express";
import type { Logger } from "pino";
import type { Counter } from "prom-client";
import { requestLogLevel } from "./logger.ts";

declare module "express-serve-static-core" {
  interface Request {
    /** Our own request id, unique, also sent back as x-request-id. */
    id?: string;
  }
}

const CLIENT_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const QUIET = new Set(["/healthz", "/readyz", "/metrics"]);

export interface RequestCounting {
  /** relay_http_requests_total. */
  requests: Counter<"route" | "status_class">;
  /**
   * The route pattern of a request no route took (refused before routing: authentication, say),
   * from the app's own table; undefined when it names none.
   */
  routeOf?: (method: string, path: string) => string | undefined;
}

/**
 * The route label: the pattern Express matched ("GET /notifications/:eventId"), never the path
 * itself (ids would make a series per event); "unmatched" for what no route serves.
 */
function routeLabel(req: Request, path: string, counting: RequestCounting): string {
  if (req.route?.path) return `${req.method} ${req.baseUrl}${req.route.path}`;
  return counting.routeOf?.(req.method, path) ?? "unmatched";
}

/**
 * One line per request, written when the answer is finished, at the level its outcome deserves
 * (requestLogLevel). Only method and path (a query string may carry a token, a body personal
 * data). A caller's x-request-id is kept as clientRequestId; ours is always a fresh UUID. Written
 * for the hot path: no child logger per request, nothing built for a line that is not written.
 * Every answer is counted by route and status class, probes and shed requests included.
 */
export function requestLogging(logger: Logger, counting: RequestCounting): RequestHandler {
  return (req: Request, res: Response, next: NextFunction): void => {
    const id = randomUUID();
    req.id = id;
    res.setHeader("x-request-id", id);
    const path = req.url.split("?", 1)[0]!;
    const quiet = QUIET.has(path);
    const started = performance.now();
    res.once("finish", () => {
      counting.requests.inc({
        route: routeLabel(req, path, counting),
        status_class: `${Math.floor(res.statusCode / 100)}xx`,
      });
      if (quiet) return;
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
