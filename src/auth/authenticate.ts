import { createHash, timingSafeEqual } from "node:crypto";
import type { NextFunction, Request, RequestHandler, Response } from "express";
import { AppError } from "../errors.ts";
import type { Credential } from "./credentials.ts";
import { decodeJwt } from "jose";
import type { GuessThrottle } from "./guessThrottle.ts";
import { looksLikeJwt, type PubsubTokenVerifier } from "./pubsubOidc.ts";

export interface AuthOptions {
  /** API_TOKENS: may do everything, from the Authorization header only. */
  operatorTokens: readonly string[];
  /** INGEST_TOKENS: may post events, from the header or `?token=` (a push URL). */
  ingestTokens: readonly string[];
  /** Set with PUBSUB_AUDIENCE: verifies Pub/Sub's Google-signed OIDC token. */
  pubsub?: PubsubTokenVerifier;
  /**
   * Set with INGEST_AUTH=platform: verifies the Google-signed ID token of a caller Cloud Run's IAM
   * let through (PLATFORM_AUDIENCE, PLATFORM_SERVICE_ACCOUNT); it may post events.
   */
  platform?: PubsubTokenVerifier;
  /** Makes a client that keeps presenting wrong credentials wait. */
  throttle?: GuessThrottle;
  /** Told about each wrong credential, and each request refused while its client waits (metrics). */
  onFailure?: () => void;
  onThrottled?: () => void;
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
 * constant time), then a Google JWT when Pub/Sub or platform verification is configured (the
 * token's audience says which). A header that is none of ours — a Google JWT while no audience is
 * set, say — does not hide a valid `?token=`. A client that keeps presenting wrong credentials is
 * made to wait (GuessThrottle). Runs before any body is read.
 */
export function authenticate(options: AuthOptions): RequestHandler {
  const isOperator = matcher(options.operatorTokens);
  const isIngest = matcher(options.ingestTokens);
  return async (req: Request, _res: Response, next: NextFunction): Promise<void> => {
    const header = bearer(req.header("authorization"));
    const query = typeof req.query.token === "string" ? req.query.token : undefined;
    const presented = header !== undefined || query !== undefined || req.header("authorization") !== undefined;
    req.credentialPresented = presented;
    // A guesser is refused whatever it presents, right or wrong: otherwise the answers would still
    // tell the right token from the wrong ones while it waits.
    const client = clientOf(req);
    const waitMs = presented && !options.open ? (options.throttle?.waitMs(client) ?? 0) : 0;
    if (waitMs > 0) {
      options.onThrottled?.();
      return next(
        new AppError("too_many_attempts", "Too many wrong credentials from this client; wait before trying again", {
          retryAfterSeconds: Math.ceil(waitMs / 1000),
        }),
      );
    }
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
    const google = header !== undefined && looksLikeJwt(header) ? verifierFor(options, header) : undefined;
    if (google) {
      try {
        const identity = await google.verifier.verify(header!);
        req.credential = { kind: google.kind, email: identity.email };
        return next();
      } catch (error) {
        if (error instanceof AppError && (error.code === "unauthorized" || error.code === "forbidden")) {
          failed(options, client);
        }
        return next(error);
      }
    }
    if (options.open) {
      req.credential = { kind: "open" };
      return next();
    }
    if (presented) failed(options, client);
    next();
  };
}

function failed(options: AuthOptions, client: string): void {
  options.throttle?.failed(client);
  options.onFailure?.();
}

/** The caller's address as the proxies in front report it (Express's `trust proxy`, TRUST_PROXY_HOPS). */
export function clientOf(req: Request): string {
  return req.ip ?? req.socket.remoteAddress ?? "unknown";
}

/** The verifier a Google ID token is meant for, by its (unverified) audience; verification decides. */
function verifierFor(
  options: AuthOptions,
  token: string,
): { verifier: PubsubTokenVerifier; kind: "pubsub" | "platform" } | undefined {
  const { pubsub, platform } = options;
  if (pubsub && platform) {
    let audiences: string[] = [];
    try {
      const aud = decodeJwt(token).aud;
      audiences = Array.isArray(aud) ? aud : aud === undefined ? [] : [aud];
    } catch {
      // Not decodable: either verifier refuses it the same way.
    }
    return audiences.includes(platform.audience)
      ? { verifier: platform, kind: "platform" }
      : { verifier: pubsub, kind: "pubsub" };
  }
  if (pubsub) return { verifier: pubsub, kind: "pubsub" };
  if (platform) return { verifier: platform, kind: "platform" };
  return undefined;
}

const ALLOWED: Record<"ingest" | "operator", ReadonlySet<Credential["kind"]>> = {
  ingest: new Set(["pubsub", "ingest", "platform", "operator", "open"]),
  operator: new Set(["operator", "open"]),
};

/** Lets the request through when its credential has the scope; 401 without one, 403 with the wrong one. */
export function requireScope(scope: "ingest" | "operator"): RequestHandler {
  return (req: Request, _res: Response, next: NextFunction): void => {
    const kind = req.credential?.kind;
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
