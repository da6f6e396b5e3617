import { describe, expect, it } from "vitest";
import { AppError, ERROR_CODES } from "../errors.ts";
import { httpStatusOf } from "./errorStatus.ts";

describe("httpStatusOf: the relay's errors as HTTP statuses", () => {
  it("gives every error code a status", () => {
    for (const code of ERROR_CODES) expect(httpStatusOf(code), code).toBeGreaterThanOrEqual(400);
  });

  it("answers 429 or 5xx exactly for what the domain calls retryable, so Pub/Sub and callers retry just those", () => {
    for (const code of ERROR_CODES) {
      const status = httpStatusOf(code);
      expect(new AppError(code, "x").retryable, `${code} (${status})`).toBe(status === 429 || status >= 500);
    }
  });

  it("keeps the statuses callers rely on", () => {
    expect(httpStatusOf("invalid_event")).toBe(400);
    expect(httpStatusOf("unauthorized")).toBe(401);
    expect(httpStatusOf("forbidden")).toBe(403);
    expect(httpStatusOf("payload_purged")).toBe(410);
    expect(httpStatusOf("payload_too_large")).toBe(413);
    expect(httpStatusOf("unsupported_media_type")).toBe(415);
    expect(httpStatusOf("event_id_conflict")).toBe(422);
    expect(httpStatusOf("undeclared_event_type")).toBe(422);
    expect(httpStatusOf("svix_rate_limited")).toBe(429);
    expect(httpStatusOf("event_in_flight")).toBe(503);
  });
});
