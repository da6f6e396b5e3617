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
  too_many_attempts: true,
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

/**
 * Bounds on what an error carries back to a caller, into the quarantine and onto the dashboard:
 * details quote the request (keys, values, headers), so a hostile body must cost about its own
 * size, never a multiple of it.
 */
export const ERROR_LIMITS = {
  /** Characters of a detail's path or message; longer ones are cut and marked. */
  detailText: 200,
  /** Details kept per error. */
  details: 20,
  /** UTF-8 bytes of all details' paths and messages together. */
  detailBytes: 8 * 1024,
  /** Characters of an error's message. */
  message: 1000,
} as const;

const CUT_MARK = "…(cut)";

/** `text` at most `max` characters, marked when cut, never splitting a surrogate pair. */
export function cutText(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max - CUT_MARK.length;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return `${text.slice(0, Math.max(0, end))}${CUT_MARK}`;
}

/** Details as an error keeps them: each cut to ERROR_LIMITS.detailText, at most ERROR_LIMITS.details, within ERROR_LIMITS.detailBytes. */
export function boundDetails(details: readonly ErrorDetail[]): ErrorDetail[] {
  const kept: ErrorDetail[] = [];
  let bytes = 0;
  for (const detail of details) {
    if (kept.length === ERROR_LIMITS.details) break;
    const path = cutText(String(detail.path), ERROR_LIMITS.detailText);
    const message = cutText(String(detail.message), ERROR_LIMITS.detailText);
    bytes += Buffer.byteLength(path) + Buffer.byteLength(message);
    if (bytes > ERROR_LIMITS.detailBytes) break;
    kept.push({ path, message });
  }
  return kept;
}

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
    super(cutText(message, ERROR_LIMITS.message), { cause: options.cause });
    this.name = "AppError";
    this.code = code;
    this.details = options.details ? boundDetails(options.details) : [];
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
