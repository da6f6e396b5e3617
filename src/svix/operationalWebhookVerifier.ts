import { Webhook, WebhookVerificationError } from "svix";
import type { OperationalEvent, OperationalWebhookCheck } from "../core/ports/deliveryEvents.ts";
import { type Clock, systemClock } from "../core/ports/clock.ts";
import { AppError } from "../errors.ts";

/**
 * Verifies Svix's operational webhooks with the SDK's `Webhook` on the raw body: the signature
 * (HMAC-SHA256 with SVIX_WEBHOOK_SECRET) and the timestamp (Svix's 5-minute tolerance, so a
 * captured request cannot be replayed later). Anything unsigned, forged or stale is unauthorized.
 */
/** Svix's own tolerance for a webhook's timestamp, either way (its SDK's). */
const TIMESTAMP_TOLERANCE_SECONDS = 5 * 60;
/** `v1,<base64 of 32 bytes>`, space-separated when the secret is being rotated; a few at most. */
const SIGNATURES = /^v1,[A-Za-z0-9+/]{43}=(?: v1,[A-Za-z0-9+/]{43}=){0,4}$/;
const SVIX_ID = /^[A-Za-z0-9_-]{1,256}$/;

export class OperationalWebhookVerifier implements OperationalWebhookCheck {
  private readonly webhook: Webhook;
  private readonly clock: Clock;

  constructor(secret: string, clock: Clock = systemClock) {
    this.webhook = new Webhook(secret);
    this.clock = clock;
  }

  checkHeaders(header: (name: string) => string | undefined): void {
    const refuse = (why: string) => {
      throw new AppError("unauthorized", `The Svix webhook signature is not valid: ${why}`);
    };
    if (!SVIX_ID.test(header("svix-id") ?? "")) refuse("missing or malformed svix-id");
    const timestamp = header("svix-timestamp") ?? "";
    if (!/^\d{1,12}$/.test(timestamp)) refuse("missing or malformed svix-timestamp");
    if (Math.abs(this.clock.now() / 1000 - Number(timestamp)) > TIMESTAMP_TOLERANCE_SECONDS) {
      refuse("the timestamp is more than 5 minutes away (a replay, or a clock far off)");
    }
    if (!SIGNATURES.test(header("svix-signature") ?? "")) refuse("missing or malformed svix-signature");
  }

  verify(rawBody: Buffer, header: (name: string) => string | undefined): OperationalEvent {
    const headers = {
      "svix-id": header("svix-id") ?? "",
      "svix-timestamp": header("svix-timestamp") ?? "",
      "svix-signature": header("svix-signature") ?? "",
    };
    const text = rawBody.toString("utf8");
    try {
      // The SDK checks signature and timestamp, and returns nothing: the body is parsed below.
      this.webhook.verify(text, headers);
    } catch (error) {
      const reason = error instanceof WebhookVerificationError ? error.message : "it could not be verified";
      throw new AppError("unauthorized", `The Svix webhook signature is not valid: ${reason}`);
    }
    let payload: unknown;
    try {
      payload = JSON.parse(text);
    } catch {
      throw new AppError("invalid_json", "The Svix webhook body is not JSON");
    }
    const { type, data } = (payload ?? {}) as { type?: unknown; data?: unknown };
    if (typeof type !== "string" || !data || typeof data !== "object") {
      throw new AppError("invalid_request", "A Svix operational webhook has a type and a data object", {
        details: [{ path: "/type", message: "must be a string, with data an object" }],
      });
    }
    return { svixId: headers["svix-id"], type, data: data as Record<string, unknown> };
  }
}
