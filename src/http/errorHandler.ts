import type { NextFunction, Request, Response } from "express";
import { AppError, type ErrorCode, isAppError, SHEDDING_CODES } from "../errors.ts";
import { httpStatusOf } from "./errorStatus.ts";

// body-parser's error types, as our codes.
const BODY_ERRORS: Record<string, { code: ErrorCode; message: string }> = {
  "entity.too.large": { code: "payload_too_large", message: "The request body is over the size limit" },
  "entity.parse.failed": { code: "invalid_json", message: "The request body is not valid JSON" },
  "encoding.unsupported": { code: "unsupported_media_type", message: "The content encoding is not supported" },
  "charset.unsupported": { code: "unsupported_media_type", message: "The charset is not supported; send UTF-8 JSON" },
  "request.aborted": { code: "invalid_json", message: "The request was aborted before its body arrived" },
  "request.size.invalid": { code: "invalid_json", message: "The request body is shorter than its Content-Length" },
};

export function toAppError(error: unknown): AppError {
  if (isAppError(error)) return error;
  const type = (error as { type?: unknown } | null)?.type;
  const known = typeof type === "string" ? BODY_ERRORS[type] : undefined;
  if (known) return new AppError(known.code, known.message, { cause: error });
  const status = (error as { status?: unknown } | null)?.status;
  if (typeof status === "number" && status >= 400 && status < 500) {
    return new AppError("invalid_json", "The request could not be read", { cause: error });
  }
  return new AppError("internal", "Internal error", { cause: error });
}

/**
 * The one place errors become HTTP answers: `{ error: { code, message, details, requestId } }`.
 * It does not log: the request logger writes one line per failed request, with this error and
 * its cause (res.err); expected shedding is counted for a periodic summary instead.
 */
export function errorHandler(options: { onShed?: (code: string) => void } = {}) {
  return (error: unknown, req: Request, res: Response, _next: NextFunction): void => {
    const appError = toAppError(error);
    const requestId = String(req.id ?? "");
    (res as Response & { err?: unknown }).err = appError;
    if (SHEDDING_CODES.has(appError.code)) options.onShed?.(appError.code);
    if (res.headersSent) return void res.end();
    if (appError.retryable)
      res.setHeader("retry-after", String(Math.max(1, Math.ceil(appError.retryAfterSeconds ?? 1))));
    const status = httpStatusOf(appError.code);
    // A caller with no credential of ours learns that it failed and whether to retry, not why: a
    // 5xx's message can quote a DNS error, Google's key server or Svix's answer.
    const anonymous = status >= 500 && !req.credential;
    res.status(status).json({
      error: {
        code: appError.code,
        message: anonymous ? ANONYMOUS_MESSAGE : appError.message,
        details: anonymous ? [] : appError.details,
        requestId,
      },
    });
  };
}

export const ANONYMOUS_MESSAGE = "The relay cannot take this request right now; try again later";

export function notFoundHandler(req: Request, _res: Response, next: NextFunction): void {
  next(new AppError("not_found", `No route for ${req.method} ${req.path}`));
}
