import { createHash, timingSafeEqual } from "node:crypto";
import type { NextFunction, Request, RequestHandler, Response } from "express";
import { AppError } from "../errors.ts";
import type { Credential } from "./credentials.ts";
import { looksLikeJwt, type PubsubTokenVerifier } from "./pubsubOidc.ts";

export interface AuthOptions {
  /** API_TOKENS: may do everything, from the Authorization header only. */
  operatorTokens: readonly string[];
  /** INGEST_TOKENS: may post events, from the header or `?token=` (a push URL). */
  ingestTokens: readonly string[];
  /** Set with PUBSUB_AUDIENCE: verifies Pub/Sub's Google-signed OIDC token. */
  pubsub?: PubsubTokenVerifier;
  /** INGEST_AUTH=platform: the platform (Cloud Run IAM) authenticated the caller; events may be posted. */
  platformIngest: boolean;
  /** No credential of any kind configured, outside production: everything is open (development). */
  open: boolean;
}

const digest = (value: string) => createHash("sha256").update(value).digest();

/**
 * Compares digests in constant time, so a token cannot be guessed from how fast it is refused.
 * Also the dashboard's login check (src/dashboard/gate.ts).
 */
export function matcher(tokens: readonly string[]): (candidate: string | undefined) => boolean {
  const expected = tokens.map(digest);
  return (candidate) => {
    if (candidate === undefined || expected.length === 0) return false;
    const actual = digest(candidate);
    let found = false;
    for (const e of expected) found = timingSafeEqual(e, actual) || found;
    return found;
  };
}

/**
 * Whether a request may see operational detail without going through the routes' scopes (the
 * readiness probe's body): an operator's bearer token, or an open API (development).
 */
export function operatorRequest(options: AuthOptions): (req: Request) => boolean {
  const isOperator = matcher(options.operatorTokens);
  return (req) => options.open || isOperator(bearer(req.header("authorization")));
}

function bearer(header: string | undefined): string | undefined {
  const match = header ? /^(\S+)\s+(\S.*)$/.exec(header.trim()) : null;
  return match && match[1]!.toLowerCase() === "bearer" ? match[2]!.trim() : undefined;
}

/**
 * Finds out who is calling (ARCHITECTURE.md section 6) and sets req.credential; refuses nothing
 * by itself except a credential that fails verification. Static tokens are checked first (cheap,
 * constant time), then a Google JWT when Pub/Sub verification is configured. A header that is
 * none of ours — a Google JWT while PUBSUB_AUDIENCE is unset, say — does not hide a valid
 * `?token=`. Runs before any body is read.
 */
export function authenticate(options: AuthOptions): RequestHandler {
  const isOperator = matcher(options.operatorTokens);
  const isIngest = matcher(options.ingestTokens);
  return async (req: Request, _res: Response, next: NextFunction): Promise<void> => {
    const header = bearer(req.header("authorization"));
    const query = typeof req.query.token === "string" ? req.query.token : undefined;
    req.credentialPresented = header !== undefined || query !== undefined || req.header("authorization") !== undefined;
    if (isOperator(header)) {
      req.credential = { kind: "operator" };
      return next();
    }
    if (isIngest(header) || isIngest(query)) {
      req.credential = { kind: "ingest" };
      return next();
    }
    if (isOperator(query))
      return next(
        new AppError("forbidden", "Operator tokens are accepted in the Authorization header only, never in the URL"),
      );
    if (options.pubsub && header !== undefined && looksLikeJwt(header)) {
      try {
        const identity = await options.pubsub.verify(header);
        req.credential = { kind: "pubsub", email: identity.email };
        return next();
      } catch (error) {
        return next(error);
      }
    }
    if (options.platformIngest) req.credential = { kind: "platform" };
    else if (options.open) req.credential = { kind: "open" };
    next();
  };
}

const ALLOWED: Record<"ingest" | "operator", ReadonlySet<Credential["kind"]>> = {
  ingest: new Set(["pubsub", "ingest", "platform", "operator", "open"]),
  operator: new Set(["operator", "open"]),
};

/** Lets the request through when its credential has the scope; 401 without one, 403 with the wrong one. */
export function requireScope(scope: "ingest" | "operator"): RequestHandler {
  return (req: Request, _res: Response, next: NextFunction): void => {
    // The platform's say-so covers posting events only: for anything else the caller is anonymous.
    const kind = req.credential?.kind === "platform" && scope === "operator" ? undefined : req.credential?.kind;
    if (kind && ALLOWED[scope].has(kind)) return next();
    if (kind || req.credentialPresented) {
      return next(
        new AppError(
          "forbidden",
          kind
            ? `This credential may not ${scope === "operator" ? "use operator routes" : "post events"}`
            : "The credential is not valid",
        ),
      );
    }
    next(new AppError("unauthorized", "Authentication required: send Authorization: Bearer <token>"));
  };
}
