import type { ErrorCode } from "../errors.ts";

/** The HTTP status of each error code: the one place the relay's errors become statuses. */
const STATUS_BY_CODE: Record<ErrorCode, number> = {
  invalid_json: 400,
  invalid_envelope: 400,
  invalid_event: 400,
  invalid_query: 400,
  invalid_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  already_delivered: 409,
  payload_too_large: 413,
  payload_purged: 410,
  unsupported_media_type: 415,
  svix_rejected: 422,
  delivery_failed: 422,
  event_id_conflict: 422,
  undeclared_event_type: 422,
  svix_rate_limited: 429,
  too_many_attempts: 429,
  internal: 500,
  auth_unavailable: 503,
  svix_unavailable: 503,
  svix_unauthorized: 503,
  svix_circuit_open: 503,
  database_unavailable: 503,
  event_in_flight: 503,
  overloaded: 503,
};

export function httpStatusOf(code: ErrorCode): number {
  return STATUS_BY_CODE[code];
}
