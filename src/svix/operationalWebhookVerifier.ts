import { Webhook, WebhookVerificationError } from "svix";
import type { OperationalEvent, OperationalWebhookCheck } from "../core/ports/deliveryEvents.ts";
import { AppError } from "../errors.ts";

/**
 * Verifies Svix's operational webhooks with the SDK's `Webhook` on the raw body: the signature
 * (HMAC-SHA256 with SVIX_WEBHOOK_SECRET) and the timestamp (Svix's 5-minute tolerance, so a
 * captured request cannot be replayed later). Anything unsigned, forged or stale is unauthorized.
 */
export class OperationalWebhookVerifier implements OperationalWebhookCheck {
  private readonly webhook: Webhook;

  constructor(secret: string) {
    this.webhook = new Webhook(secret);
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
