// What a failed Svix call means, as one AppError: the answer's status (and Retry-After), a
// timeout, a body the SDK could not read, or a request the relay refused to send.
import { ApiException } from "svix";
import { systemClock } from "../core/ports/clock.ts";
import { AppError } from "../errors.ts";

/**
 * The URL the SDK built does not reach the resource asked for: a segment was rewritten on the way
 * (a dot-segment removed by `new URL()`, say), so the call would land on another resource.
 */
export class UnsafeSvixPathError extends Error {
  override name = "UnsafeSvixPathError";

  constructor(expected: string, actual: string) {
    super(`the request for ${expected.slice(0, 300)} would have gone to ${actual.slice(0, 300)}; not sent`);
  }
}

/** Seconds from a Retry-After header (delta-seconds or HTTP date); undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now: number): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.max(0, Number(trimmed));
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, (date - now) / 1000);
}

function headerOf(headers: unknown, name: string): string | undefined {
  if (headers && typeof (headers as Headers).get === "function") return (headers as Headers).get(name) ?? undefined;
  const record = headers as Record<string, string> | undefined;
  return record?.[name] ?? record?.[name.toLowerCase()];
}

function describeBody(body: unknown): string {
  if (body && typeof body === "object") {
    const { code, detail } = body as { code?: unknown; detail?: unknown };
    if (typeof detail === "string") return typeof code === "string" ? `${code}: ${detail}` : detail;
    if (Array.isArray(detail)) {
      return detail
        .map((d: { loc?: unknown[]; msg?: string }) => `${(d.loc ?? []).join(".")}: ${d.msg ?? "invalid"}`)
        .join("; ");
    }
  }
  return typeof body === "string" ? body.slice(0, 200) : "no detail";
}

/** One status, one meaning: what Svix's answer says about the message and about Svix. */
function classifyStatus(
  status: number,
  detail: string,
  retryAfter: string | undefined,
  cause: unknown,
  nowMs: number,
): AppError {
  const upstream = { upstreamStatus: status, cause };
  if (status === 429) {
    return new AppError("svix_rate_limited", `Svix is rate limiting (${detail})`, {
      ...upstream,
      retryAfterSeconds: parseRetryAfter(retryAfter, nowMs),
    });
  }
  if (status === 401 || status === 403) {
    // Our key, not the event: a rotated or wrong SVIX_API_KEY must not reject events for good.
    return new AppError("svix_unauthorized", `Svix refused our credentials (${status}); check SVIX_API_KEY`, upstream);
  }
  if (status >= 500 || status === 408) {
    return new AppError("svix_unavailable", `Svix answered ${status}`, {
      ...upstream,
      retryAfterSeconds: parseRetryAfter(retryAfter, nowMs),
    });
  }
  if (status === 409) return new AppError("svix_rejected", `Svix conflict: ${detail}`, upstream);
  return new AppError("svix_rejected", `Svix rejected the request (${status}): ${detail}`, upstream);
}

/**
 * Every failure of a Svix call as one AppError. `response`: the status and Retry-After seen on
 * the wire, for answers the SDK could not turn into an ApiException (it JSON-parses 4xx bodies,
 * so a proxy's HTML 429 arrives here as a SyntaxError).
 */
export function classifySvixError(
  error: unknown,
  response?: { status: number; retryAfter: string | undefined },
  nowMs: number = systemClock.now(),
): AppError {
  if (error instanceof AppError) return error;
  if (error instanceof UnsafeSvixPathError) {
    // Our request, not Svix: the same ids would build the same URL again, so never retryable.
    return new AppError("svix_rejected", `The relay refused to call Svix: ${error.message}`, { cause: error });
  }
  if (error instanceof ApiException) {
    return classifyStatus(error.code, describeBody(error.body), headerOf(error.headers, "retry-after"), error, nowMs);
  }
  const name = (error as { name?: string } | undefined)?.name;
  if (name === "TimeoutError" || name === "AbortError") {
    return new AppError("svix_unavailable", "Svix did not answer in time", { cause: error });
  }
  if (error instanceof SyntaxError) {
    if (response && response.status >= 300)
      return classifyStatus(response.status, "unreadable body", response.retryAfter, error, nowMs);
    return new AppError("svix_unavailable", "Svix answered with an unreadable body", { cause: error });
  }
  return new AppError(
    "svix_unavailable",
    `Svix could not be reached (${(error as Error | undefined)?.message ?? "unknown error"})`,
    {
      cause: error,
    },
  );
}
