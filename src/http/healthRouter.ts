import type { Clock } from "../core/ports/clock.ts";
import { type Request, type Response, Router } from "express";
import type { Metrics } from "../observability/metrics.ts";

export interface HealthRouterOptions {
  /** Resolves when the database answers; rejects otherwise. */
  ping: () => Promise<void>;
  /** False once shutdown has begun: load balancers should stop sending work. */
  accepting: () => boolean;
  /** A database check is reused this long: a flood of probes costs one query per window. */
  cacheMs: number;
  /** The relay's clock: how old the cached database check is. */
  clock: Clock;
  /** What the start-up check found about Svix (shown, not judged: queued events wait for it). */
  svixStatus?: () => string;
  /**
   * Whether this caller may see why the relay is (not) ready — the database, Svix's verdict on the
   * key. Anyone else learns only ready or not: the probe is public, its details are not.
   */
  showDetails?: (req: Request) => boolean;
}

/** Open to the platform's probes: /healthz (the process is up) and /readyz (it can take work). */
export function healthRouter(options: HealthRouterOptions): Router {
  const router = Router();
  let last: { at: number; check: Promise<boolean> } | undefined;
  const databaseUp = (): Promise<boolean> => {
    const now = options.clock.now();
    if (!last || now - last.at > options.cacheMs) {
      last = {
        at: now,
        check: options.ping().then(
          () => true,
          () => false,
        ),
      };
    }
    return last.check;
  };
  router.get("/healthz", (_req: Request, res: Response) => void res.json({ status: "ok" }));
  router.get("/readyz", async (req: Request, res: Response) => {
    if (!options.accepting()) return void res.status(503).json({ status: "shutting_down" });
    const up = await databaseUp();
    const detail = options.showDetails?.(req) ?? true;
    const svix = detail ? options.svixStatus?.() : undefined;
    const body = up ? { status: "ready", database: "ok" } : { status: "unavailable", database: "unreachable" };
    res.status(up ? 200 : 503).json(detail ? { ...body, ...(svix ? { svix } : {}) } : { status: body.status });
  });
  return router;
}

/** Prometheus metrics: an operator route (Prometheus scrapes with a bearer token). */
export function metricsRouter(metrics: Metrics): Router {
  const router = Router();
  router.get("/metrics", async (_req: Request, res: Response) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  return router;
}
