/** One violation of a request or event, e.g. `{ path: "/time", message: "must match format \"date-time\"" }`. */
export interface ErrorDetail {
  path: string;
  message: string;
}

/**
 * Every error the relay raises on purpose, with whether trying the same thing again can help.
 * Retryable: the cause is passing (Svix slow, throttling or down; the database away; this
 * instance full or asked to wait; a delivery of the same event in flight). Not retryable: the
 * request or the event itself is the problem, so the same request fails the same way.
 * HTTP statuses are the edge's business (src/http/errorStatus.ts).
 */
const RETRYABLE_BY_CODE = {
  invalid_json: false,
  invalid_envelope: false,
  invalid_event: false,
  invalid_query: false,
  invalid_request: false,
  unauthorized: false,
  forbidden: false,
  not_found: false,
  already_delivered: false,
  payload_too_large: false,
  payload_purged: false,
  unsupported_media_type: false,
  svix_rejected: false,
  delivery_failed: false,
  event_id_conflict: false,
  undeclared_event_type: false,
  svix_rate_limited: true,
  internal: true,
  auth_unavailable: true,
  svix_unavailable: true,
  svix_unauthorized: true,
  svix_circuit_open: true,
  database_unavailable: true,
  event_in_flight: true,
  overloaded: true,
} as const satisfies Record<string, boolean>;

export type ErrorCode = keyof typeof RETRYABLE_BY_CODE;
export const ERROR_CODES = Object.keys(RETRYABLE_BY_CODE) as ErrorCode[];

/** Codes of expected shedding (the relay protecting itself or obeying Svix): counted and summarized, not logged per request. */
export const SHEDDING_CODES: ReadonlySet<ErrorCode> = new Set(["overloaded", "svix_circuit_open", "svix_rate_limited"]);

export interface AppErrorOptions {
  details?: ErrorDetail[];
  /** Seconds the caller should wait before trying again; sent as Retry-After. */
  retryAfterSeconds?: number;
  /** HTTP status Svix answered, when the error comes from Svix. */
  upstreamStatus?: number;
  cause?: unknown;
}

/**
 * The one error type the relay raises on purpose. `code` says what went wrong (the edge maps it
 * to its protocol: src/http/errorStatus.ts); `retryable` tells callers whether trying again can help.
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

  get retryable(): boolean {
    return RETRYABLE_BY_CODE[this.code];
  }
}

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}
