import { createHash, timingSafeEqual } from "node:crypto";
import type { NextFunction, Request, Response } from "express";
import { AppError } from "../errors.ts";

const digest = (value: string) => createHash("sha256").update(value).digest();

/**
 * Bearer-token authentication for the API. Pub/Sub push cannot send a static header, so the
 * token may also come as `?token=` in the push endpoint URL. No tokens configured → open
 * (development; production deployments set API_TOKENS or keep the service private).
 */
export function requireToken(tokens: readonly string[]) {
  const expected = tokens.map(digest);
  return (req: Request, _res: Response, next: NextFunction): void => {
    if (expected.length === 0) return next();
    const header = req.header("authorization");
    const presented = header?.startsWith("Bearer ") ? header.slice(7) : typeof req.query.token === "string" ? req.query.token : undefined;
    if (!presented) return next(new AppError("unauthorized", "Authentication required: send Authorization: Bearer <token>"));
    const actual = digest(presented);
    if (!expected.some((e) => timingSafeEqual(e, actual))) return next(new AppError("forbidden", "The token is not valid"));
    next();
  };
}
