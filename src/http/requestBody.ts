import type { Request } from "express";
import { AppError } from "../errors.ts";

/** Whether the request carries a body (a length above zero, or chunks). */
export function hasBody(req: Request): boolean {
  return req.header("transfer-encoding") !== undefined || Number(req.header("content-length") ?? 0) > 0;
}

/**
 * Compressed bodies are refused before a byte is read: Pub/Sub never compresses a push, and a few
 * kilobytes of gzip can inflate to megabytes that the size limits (which see the compressed
 * Content-Length) and the large-body lane would not account for.
 */
export function identityEncoded(req: Request): boolean {
  const encoding = req.header("content-encoding");
  return encoding === undefined || encoding.trim().toLowerCase() === "identity" || encoding.trim() === "";
}

export function compressedBody(): AppError {
  return new AppError(
    "unsupported_media_type",
    "Compressed bodies are not accepted (Content-Encoding); send the JSON uncompressed",
  );
}
