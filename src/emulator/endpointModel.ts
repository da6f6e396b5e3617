import { randomBytes } from "node:crypto";
import { Webhook } from "svix";

/** An endpoint as the emulator keeps it: EndpointOut plus what Svix never returns in it. */
export interface EmulatedEndpoint {
  id: string;
  appId: string;
  uid: string | null;
  url: string;
  description: string;
  disabled: boolean;
  eventTypes: string[] | null;
  channels: string[] | null;
  metadata: Record<string, string>;
  throttleRate: number | null;
  createdAt: string;
  updatedAt: string;
  /** `whsec_` + base64 key; only `GET …/secret` reveals it. */
  secret: string;
  /** Extra headers sent with every delivery (EndpointIn.headers). */
  headers: Record<string, string> | null;
  /** Messages exhausted in a row; a success resets it. Disables the endpoint at the limit. */
  exhaustedInARow: number;
  /** First failed attempt since the last success (ISO time), for endpoint.disabled's failSince. */
  failSince: string | null;
}

/** What EndpointIn, EndpointUpdate and EndpointPatch may carry (after validation). */
export interface EndpointInput {
  url?: string;
  description?: string;
  uid?: string | null;
  disabled?: boolean;
  eventTypes?: string[] | null;
  /** Svix's former name for eventTypes. */
  filterTypes?: string[] | null;
  channels?: string[] | null;
  metadata?: Record<string, string>;
  throttleRate?: number | null;
  secret?: string | null;
  headers?: Record<string, string> | null;
}

/** MessageAttemptOut without `msg`. status: 0 success, 2 fail (MessageStatus). */
export interface EmulatedAttempt {
  id: string;
  msgId: string;
  endpointId: string;
  url: string;
  response: string;
  /** 0 when no HTTP answer came (connection error, timeout). */
  responseStatusCode: number;
  responseDurationMs: number;
  status: 0 | 2;
  statusText: "success" | "fail";
  /** 0: scheduled (the emulator has no manual resend). */
  triggerType: 0;
  timestamp: string;
}

/** The body of EndpointOut (spec field names; no secret, no delivery bookkeeping). */
export function endpointOut(ep: EmulatedEndpoint): Record<string, unknown> {
  const { id, uid, url, description, disabled, eventTypes, channels, metadata, throttleRate, createdAt, updatedAt } =
    ep;
  return { id, uid, url, description, disabled, eventTypes, channels, metadata, throttleRate, createdAt, updatedAt };
}

/** A secret like the ones Svix generates: `whsec_` + base64 of 24 random bytes. */
export function newEndpointSecret(): string {
  return `whsec_${randomBytes(24).toString("base64")}`;
}

/** Svix accepts a secret with or without a prefix and reports it as `whsec_…`. */
export function normalizeSecret(secret: string): string {
  return secret.startsWith("whsec_") ? secret : `whsec_${secret}`;
}

/** Whether the svix SDK can sign with it (the schema's pattern lets through base64 of a bad length). */
export function isUsableSecret(secret: string): boolean {
  try {
    new Webhook(normalizeSecret(secret)).sign("msg_check", new Date(), "");
    return true;
  } catch {
    return false;
  }
}

/** Whether a message of this type and channels goes to the endpoint (Svix's filtering rules). */
export function endpointWants(ep: EmulatedEndpoint, eventType: string, channels: string[] | null): boolean {
  if (ep.disabled) return false;
  if (ep.eventTypes && ep.eventTypes.length > 0 && !ep.eventTypes.includes(eventType)) return false;
  if (ep.channels && ep.channels.length > 0 && !(channels ?? []).some((c) => ep.channels?.includes(c))) return false;
  return true;
}
