import express, { type NextFunction, type Request, type Response } from "express";
import type { Logger } from "pino";
import { authenticate, requireScope, type AuthOptions } from "../auth/authenticate.ts";
import { dashboardRouter } from "../dashboard/dashboardRouter.ts";
import type { AdmissionOptions } from "../http/admission.ts";
import { errorHandler, notFoundHandler } from "../http/errorHandler.ts";
import { healthRouter, metricsRouter } from "../http/healthRouter.ts";
import { notificationsRouter } from "../http/notificationsRouter.ts";
import { openapiRouter } from "../http/openapi.ts";
import { operatorsRouter } from "../http/operatorsRouter.ts";
import { svixWebhooksRouter } from "../http/svixWebhooksRouter.ts";
import type { AppPortalService } from "../core/appPortalService.ts";
import type { DeliveryEventsService } from "../core/deliveryEventsService.ts";
import type { OperationalWebhookVerifier } from "../svix/operationalWebhookVerifier.ts";
import { quarantineRouter } from "../http/quarantineRouter.ts";
import type { IngestService } from "../ingest/ingestService.ts";
import type { NotificationService } from "../core/notificationService.ts";
import type { DeliveryEventLedger } from "../core/ports/deliveryEvents.ts";
import type { NotificationLedger } from "../core/ports/ledger.ts";
import type { QuarantineLedger } from "../core/ports/quarantine.ts";
import { requestLogging } from "../observability/requestLogging.ts";
import type { Metrics } from "../observability/metrics.ts";

export interface AppDeps {
  service: NotificationService;
  ingest: IngestService;
  ledger: NotificationLedger;
  quarantine: QuarantineLedger;
  logger: Logger;
  metrics: Metrics;
  bodyLimitBytes: number;
  admission: AdmissionOptions;
  auth: AuthOptions;
  /** /readyz reuses a database check this long (ms). */
  readinessCacheMs?: number;
  /** False once shutdown began (readiness fails); defaults to always true. */
  accepting?: () => boolean;
  svixStatus?: () => string;
  /** Told about each request shed on purpose (for the periodic summary). */
  onShed?: (code: string) => void;
  appPortal: AppPortalService;
  deliveryEvents: DeliveryEventsService;
  deliveryEventLedger: DeliveryEventLedger;
  /** Set with SVIX_WEBHOOK_SECRET: Svix's operational webhooks are taken on /svix/webhooks. */
  svixWebhooks?: OperationalWebhookVerifier;
}

/** Builds the Express app; never listens (src/bin/relay.ts does), so tests run it in-process. */
export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("query parser", "simple");
  app.use(requestLogging(deps.logger));
  const accepting = deps.accepting ?? (() => true);
  app.use(
    healthRouter({
      ping: () => deps.ledger.ping(),
      accepting,
      cacheMs: deps.readinessCacheMs ?? 2000,
      svixStatus: deps.svixStatus,
    }),
  );
  app.use(openapiRouter());
  // Authenticated by Svix's signature alone, so before the token check.
  app.use(svixWebhooksRouter({ verifier: deps.svixWebhooks, deliveryEvents: deps.deliveryEvents }));
  // Operators' pages: their own session cookie and CSRF checks, on /dashboard only (the API never reads cookies).
  app.use(
    dashboardRouter({
      service: deps.service,
      ledger: deps.ledger,
      quarantine: deps.quarantine,
      deliveryEvents: deps.deliveryEventLedger,
      appPortal: deps.appPortal,
      access: { operatorTokens: deps.auth.operatorTokens, open: deps.auth.open },
    }),
  );
  // Who is calling is settled before any body is read; then each route's scope.
  app.use(authenticate(deps.auth));
  const ingestScope = requireScope("ingest");
  const operatorScope = requireScope("operator");
  app.use((req: Request, res: Response, next: NextFunction) =>
    (req.method === "POST" && req.path === "/notifications" ? ingestScope : operatorScope)(req, res, next),
  );
  app.use(metricsRouter(deps.metrics));
  app.use(operatorsRouter({ service: deps.service, ledger: deps.ledger, appPortal: deps.appPortal }));
  app.use(
    notificationsRouter({
      service: deps.service,
      ingest: deps.ingest,
      ledger: deps.ledger,
      deliveryEvents: deps.deliveryEventLedger,
      bodyLimitBytes: deps.bodyLimitBytes,
      admission: deps.admission,
    }),
  );
  app.use(quarantineRouter({ quarantine: deps.quarantine }));
  app.use(notFoundHandler);
  app.use(errorHandler({ onShed: deps.onShed }));
  return app;
}
