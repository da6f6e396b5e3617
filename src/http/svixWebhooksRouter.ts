import express, { type NextFunction, type Request, type Response, Router } from "express";
import { AppError } from "../errors.ts";
import type { DeliveryEventsService } from "../core/deliveryEventsService.ts";
import type { OperationalWebhookCheck } from "../core/ports/deliveryEvents.ts";
import { compressedBody, identityEncoded } from "./requestBody.ts";

/**
 * `POST /svix/webhooks`: Svix's operational webhooks, authenticated by their signature alone (no
 * API token: Svix cannot send ours). Mounted before the token check. Without SVIX_WEBHOOK_SECRET
 * the route does not exist.
 */
export function svixWebhooksRouter(options: {
  verifier?: OperationalWebhookCheck;
  deliveryEvents: DeliveryEventsService;
  /** Told about each webhook shed because too many are being read at once. */
  onShed?: (code: string) => void;
}): Router {
  const router = Router();
  const { verifier } = options;
  // Svix's operational webhooks are a few hundred bytes: anything near the cap is not Svix.
  const raw = express.raw({ limit: OPERATIONAL_WEBHOOK_MAX_BYTES, type: () => true, inflate: false });
  let inFlight = 0;
  // Everything that needs no body is checked before a byte of it is read: a forged or replayed
  // webhook costs its headers, not a read, an inflate and an HMAC.
  const gate = (req: Request, res: Response, next: NextFunction): void => {
    if (!verifier) {
      return next(new AppError("not_found", "Svix operational webhooks are not configured (SVIX_WEBHOOK_SECRET)"));
    }
    try {
      verifier.checkHeaders((name) => req.header(name));
    } catch (error) {
      return next(error);
    }
    if (!identityEncoded(req)) return next(compressedBody());
    if (Number(req.header("content-length") ?? 0) > OPERATIONAL_WEBHOOK_MAX_BYTES) {
      return next(
        new AppError(
          "payload_too_large",
          `A Svix operational webhook is at most ${OPERATIONAL_WEBHOOK_MAX_BYTES} bytes`,
        ),
      );
    }
    if (inFlight >= OPERATIONAL_WEBHOOKS_IN_FLIGHT) {
      options.onShed?.("overloaded");
      return next(new AppError("overloaded", "Too many Svix webhooks at once; Svix retries", { retryAfterSeconds: 1 }));
    }
    inFlight += 1;
    let released = false;
    res.once("close", () => {
      if (!released) inFlight -= 1;
      released = true;
    });
    next();
  };
  router.post("/svix/webhooks", gate, raw, async (req: Request, res: Response) => {
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const event = verifier!.verify(body, (name) => req.header(name));
    const result = await options.deliveryEvents.record(event);
    res.json({ data: { type: event.type, ...result } });
  });
  return router;
}

/** The largest operational webhook read; Svix's are far smaller. */
export const OPERATIONAL_WEBHOOK_MAX_BYTES = 64 * 1024;
/** Operational webhooks read and verified at once; more are answered 503 (Svix retries them). */
export const OPERATIONAL_WEBHOOKS_IN_FLIGHT = 8;
