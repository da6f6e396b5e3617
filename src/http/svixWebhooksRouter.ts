import express, { type Request, type Response, Router } from "express";
import { AppError } from "../errors.ts";
import type { DeliveryEventsService } from "../core/deliveryEventsService.ts";
import type { OperationalWebhookCheck } from "../core/ports/deliveryEvents.ts";

/**
 * `POST /svix/webhooks`: Svix's operational webhooks, authenticated by their signature alone (no
 * API token: Svix cannot send ours). Mounted before the token check. Without SVIX_WEBHOOK_SECRET
 * the route does not exist.
 */
export function svixWebhooksRouter(options: {
  verifier?: OperationalWebhookCheck;
  deliveryEvents: DeliveryEventsService;
}): Router {
  const router = Router();
  const raw = express.raw({ limit: "256kb", type: () => true });
  router.post("/svix/webhooks", raw, async (req: Request, res: Response) => {
    if (!options.verifier)
      throw new AppError("not_found", "Svix operational webhooks are not configured (SVIX_WEBHOOK_SECRET)");
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const event = options.verifier.verify(body, (name) => req.header(name));
    const result = await options.deliveryEvents.record(event);
    res.json({ data: { type: event.type, ...result } });
  });
  return router;
}
