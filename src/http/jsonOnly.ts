import type { NextFunction, Request, Response } from "express";
import { AppError } from "../errors.ts";
import { hasBody } from "./requestBody.ts";

/**
 * Operators' state-changing routes take `application/json` only, so no HTML form and no other
 * "simple" cross-site request (text/plain, form-encoded, multipart: sent by any web page without
 * a CORS preflight) can reach them — which matters where the API is open (development) or the
 * caller's browser sits on the operators' network. A body-less request (replay one, erase one)
 * passes with JSON's content type or an Authorization header, which a web page cannot send
 * cross-site without a preflight either.
 */
const JSON_TYPE = /^\s*application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

export function jsonOnly(options: { bodyless?: boolean } = {}) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    // The header itself, not req.is(): that one says nothing for a request without a body.
    if (JSON_TYPE.test(req.header("content-type") ?? "")) return next();
    if (options.bodyless && req.header("authorization") !== undefined && !hasBody(req)) return next();
    next(
      new AppError(
        "unsupported_media_type",
        `Content-Type ${req.header("content-type") ?? "(none)"} is not accepted here; send Content-Type: application/json`,
      ),
    );
  };
}
