import { randomUUID } from "node:crypto";
import express from "express";
import type { Logger } from "pino";
import { pinoHttp } from "pino-http";
import { requireToken } from "./http/auth.ts";
import { errorHandler, notFoundHandler } from "./http/errorHandler.ts";
import { healthRouter } from "./http/healthRouter.ts";
import { notificationsRouter } from "./http/notificationsRouter.ts";
import { quarantineRouter } from "./http/quarantineRouter.ts";
import type { IngestService } from "./notifications/ingestService.ts";
import type { NotificationService } from "./notifications/notificationService.ts";
import type { NotificationLedger, QuarantineLedger } from "./notifications/ports.ts";
import { safeError } from "./observability/logger.ts";
import type { Metrics } from "./observability/metrics.ts";

export interface AppDeps {
  service: NotificationService;
  ingest: IngestService;
  ledger: NotificationLedger;
  quarantine: QuarantineLedger;
  logger: Logger;
  metrics: Metrics;
  bodyLimitBytes: number;
  apiTokens: readonly string[];
  /** False once shutdown began (readiness fails); defaults to always true. */
  accepting?: () => boolean;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Builds the Express app; never listens (src/main.ts does), so tests run it in-process. */
export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("query parser", "simple");
  app.use(
    pinoHttp({
      logger: deps.logger,
      genReqId: (req, res) => {
        const given = req.headers["x-request-id"];
        const id = typeof given === "string" && REQUEST_ID.test(given) ? given : randomUUID();
        res.setHeader("x-request-id", id);
        return id;
      },
      // Only method and path: query strings may carry a token, bodies carry personal data.
      serializers: {
        req: (req: { id: unknown; method: string; url: string }) => ({ id: req.id, method: req.method, path: req.url.split("?")[0] }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
        err: safeError,
      },
      customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? "error" : "info"),
      autoLogging: { ignore: (req) => req.url === "/healthz" || req.url === "/metrics" },
    }),
  );
  app.use(healthRouter({ ping: () => deps.ledger.ping(), metrics: deps.metrics, accepting: deps.accepting ?? (() => true) }));
  app.use(requireToken(deps.apiTokens));
  app.use(notificationsRouter({ service: deps.service, ingest: deps.ingest, ledger: deps.ledger, bodyLimitBytes: deps.bodyLimitBytes }));
  app.use(quarantineRouter({ quarantine: deps.quarantine }));
  app.use(notFoundHandler);
  app.use(errorHandler);
  return app;
}
