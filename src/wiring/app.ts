import express, { type NextFunction, type Request, type Response } from "express";
import { authenticate, operatorRequest, requireScope } from "../auth/authenticate.ts";
import { dashboardRouter } from "../dashboard/dashboardRouter.ts";
import { errorHandler, notFoundHandler } from "../http/errorHandler.ts";
import { healthRouter, metricsRouter } from "../http/healthRouter.ts";
import { notificationsRouter } from "../http/notificationsRouter.ts";
import { openapiRouter } from "../http/openapi.ts";
import { operatorsRouter } from "../http/operatorsRouter.ts";
import { quarantineRouter } from "../http/quarantineRouter.ts";
import { apiRouteOf } from "../http/routeTable.ts";
import { svixWebhooksRouter } from "../http/svixWebhooksRouter.ts";
import { requestLogging } from "../observability/requestLogging.ts";
import type { Container } from "./container.ts";

/**
 * What an HTTP server of the relay serves: `api`, everything (the relay); `probes`, only
 * /healthz, /readyz and /metrics (the pull worker, for the platform's probes and Prometheus).
 */
export type Routes = "api" | "probes";

/** Builds the Express app from the container's parts; never listens (src/wiring/lifecycle.ts does), so tests run it in-process. */
export function createApp(container: Container, routes: Routes = "api"): express.Express {
  const { config, logger, metrics, store, clock, auth } = container;
  const app = express();
  app.disable("x-powered-by");
  app.set("query parser", "simple");
  // Whose X-Forwarded-For to believe for the client's address (throttling): the proxies in front (Cloud Run: 1).
  app.set("trust proxy", config.trustProxyHops);
  app.use(requestLogging(logger, { requests: metrics.httpRequests, routeOf: apiRouteOf }));
  app.use(
    healthRouter({
      ping: () => store.ping(),
      accepting: () => container.readiness.accepting,
      cacheMs: config.readinessCacheMs,
      clock,
      svixStatus: () => container.svixStatus,
      showDetails: operatorRequest(auth),
    }),
  );
  const onShed = (code: string) => container.shed.count(code);
  if (routes === "probes") {
    app.use("/metrics", authenticate(auth), requireScope("operator"));
    app.use(metricsRouter(metrics));
    app.use(notFoundHandler);
    app.use(errorHandler({ onShed }));
    return app;
  }
  app.use(openapiRouter());
  // Authenticated by Svix's signature alone, so before the token check.
  app.use(
    svixWebhooksRouter({ verifier: container.webhookVerifier, deliveryEvents: container.deliveryEvents, onShed }),
  );
  // Operators' pages: their own session cookie and CSRF checks, on /dashboard only (the API never reads cookies).
  app.use(
    dashboardRouter({
      service: container.service,
      ledger: store,
      quarantine: container.quarantine,
      deliveryEvents: container.deliveryEventStore,
      appPortal: container.appPortal,
      traceProject: config.googleCloudProject,
      access: {
        operatorTokens: auth.operatorTokens,
        open: auth.open,
        clock,
        throttle: auth.throttle,
        onFailure: auth.onFailure,
        onThrottled: auth.onThrottled,
      },
    }),
  );
  // Who is calling is settled before any body is read; then each route's scope.
  app.use(authenticate(auth));
  const ingestScope = requireScope("ingest");
  const operatorScope = requireScope("operator");
  app.use((req: Request, res: Response, next: NextFunction) =>
    (req.method === "POST" && req.path === "/notifications" ? ingestScope : operatorScope)(req, res, next),
  );
  app.use(metricsRouter(metrics));
  app.use(operatorsRouter({ service: container.service, ledger: store, appPortal: container.appPortal }));
  app.use(
    notificationsRouter({
      service: container.service,
      ingest: container.ingest,
      ledger: store,
      deliveryEvents: container.deliveryEventStore,
      bodyLimitBytes: config.bodyLimitBytes,
      admission: {
        maxInFlight: config.ingestMaxInFlight,
        largeBodyBytes: config.largeBodyBytes,
        maxLargeInFlight: config.largeBodyConcurrency,
        onShed: () => onShed("overloaded"),
      },
      clock,
    }),
  );
  app.use(quarantineRouter({ quarantine: container.quarantine }));
  app.use(notFoundHandler);
  app.use(errorHandler({ onShed }));
  return app;
}
