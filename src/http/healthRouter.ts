import { type Request, type Response, Router } from "express";
import type { Metrics } from "../observability/metrics.ts";

export interface HealthRouterOptions {
  /** Resolves when the database answers; rejects otherwise. */
  ping: () => Promise<void>;
  metrics: Metrics;
  /** False once shutdown has begun: load balancers should stop sending work. */
  accepting: () => boolean;
}

export function healthRouter(options: HealthRouterOptions): Router {
  const router = Router();
  router.get("/healthz", (_req: Request, res: Response) => void res.json({ status: "ok" }));
  router.get("/readyz", async (_req: Request, res: Response) => {
    if (!options.accepting()) return void res.status(503).json({ status: "shutting_down" });
    try {
      await options.ping();
      res.json({ status: "ready", database: "ok" });
    } catch {
      res.status(503).json({ status: "unavailable", database: "unreachable" });
    }
  });
  router.get("/metrics", async (_req: Request, res: Response) => {
    res.type(options.metrics.registry.contentType).send(await options.metrics.registry.metrics());
  });
  return router;
}
