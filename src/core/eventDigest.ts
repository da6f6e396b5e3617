import { hash } from "node:crypto";
import { canonicalJson } from "./canonicalJson.ts";

/**
 * sha256 of the event's canonical JSON: two bodies are the same event exactly when their digests
 * match, whatever their key order. Kept with the notification so a duplicate is checked without
 * reading (or still having) the payload. One-shot hashing: no Hash object per event.
 */
export function eventDigest(event: unknown): string {
  return hash("sha256", canonicalJson(event), "hex");
}
