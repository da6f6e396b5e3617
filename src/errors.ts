/** One violation of a request or event, e.g. `{ path: "/time", message: "must match format \"date-time\"" }`. */
export interface ErrorDetail {
  path: string;
  message: string;
}

const STATUS_BY_CODE = {
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
  svix_rate_limited: 429,
  internal: 500,
  auth_unavailable: 503,
  svix_unavailable: 503,
  svix_unauthorized: 503,
  svix_circuit_open: 503,
  database_unavailable: 503,
  event_in_flight: 503,
  overloaded: 503,
} as const;

export type ErrorCode = keyof typeof STATUS_BY_CODE;

export interface AppErrorOptions {
  details?: ErrorDetail[];
  /** Seconds the caller should wait before trying again; sent as Retry-After. */
  retryAfterSeconds?: number;
  /** HTTP status Svix answered, when the error comes from Svix. */
  upstreamStatus?: number;
  cause?: unknown;
}

/**
 * The one error type the relay raises on purpose. `code` decides the HTTP status (httpStatusOf);
 * `retryable` tells callers (and Pub/Sub, through the status) whether trying again can help.
 */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetail[];
  readonly retryAfterSeconds: number | undefined;
  readonly upstreamStatus: number | undefined;

  constructor(code: ErrorCode, message: string, options: AppErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = "AppError";
    this.code = code;
    this.details = options.details ?? [];
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.upstreamStatus = options.upstreamStatus;
  }

  get status(): number {
    return httpStatusOf(this.code);
  }

  get retryable(): boolean {
    return this.status === 429 || this.status >= 500;
  }
}

export function httpStatusOf(code: ErrorCode): number {
  return STATUS_BY_CODE[code];
}

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}
