import { randomBytes } from "node:crypto";
import type { Request, Response } from "express";
import { matcher } from "../auth/authenticate.ts";
import type { GuessThrottle } from "../auth/guessThrottle.ts";
import type { Clock } from "../core/ports/clock.ts";
import {
  cookieValues,
  csrfToken,
  sameToken,
  issueSession,
  SESSION_COOKIE,
  SESSION_LIFETIME_SECONDS,
  sessionKey,
  verifySession,
} from "./session.ts";

export interface DashboardAccess {
  /** API_TOKENS: the tokens an operator logs in with; they also key the sessions. */
  operatorTokens: readonly string[];
  /** Development with no credential configured: no login, and the page says so. */
  open: boolean;
  /** The relay's clock: session expiry is read from it. */
  clock: Clock;
  /** Shared with the API's credentials: a client that keeps logging in wrong is made to wait. */
  throttle?: GuessThrottle;
  /** Told about each wrong login, and each one refused while its client waits (metrics). */
  onFailure?: () => void;
  onThrottled?: () => void;
}

/** Who is looking at a dashboard page, and the CSRF token their forms carry. */
export interface Viewer {
  mode: "open" | "session";
  csrf: string;
  expiresAt?: Date;
}

const COOKIE_PATH = "/dashboard";

/** True when the request reached us over https (directly, or as a proxy such as Cloud Run says). */
function overHttps(req: Request): boolean {
  const forwarded = req.header("x-forwarded-proto")?.split(",")[0]?.trim().toLowerCase();
  return req.secure || forwarded === "https";
}

/**
 * Sessions and CSRF for the dashboard. The cookie is checked here, on /dashboard only: the JSON
 * API never looks at cookies, so it needs no CSRF defence.
 */
export class DashboardGate {
  private readonly key: Buffer | undefined;
  /** Open mode has no sessions; its forms still carry a token (per process: development only). */
  private readonly openKey = randomBytes(32);
  private readonly isOperator: (candidate: string | undefined) => boolean;
  private readonly clock: Clock;
  readonly open: boolean;
  /** False when no operator token is configured (and not open): nobody can log in. */
  readonly loginPossible: boolean;

  constructor(access: DashboardAccess) {
    this.open = access.open;
    this.key = access.open ? undefined : sessionKey(access.operatorTokens);
    this.isOperator = matcher(access.operatorTokens);
    this.clock = access.clock;
    this.loginPossible = this.key !== undefined;
  }

  viewer(req: Request): Viewer | undefined {
    if (this.open) return { mode: "open", csrf: csrfToken(this.openKey, "open") };
    for (const value of cookieValues(req.header("cookie"), SESSION_COOKIE)) {
      const session = verifySession(this.key, value, this.clock.now());
      if (session) return { mode: "session", csrf: csrfToken(this.key!, session.nonce), expiresAt: session.expiresAt };
    }
    return undefined;
  }

  /** Checks the posted token (constant time, like the API) and sets the session cookie when it is an operator's. */
  login(req: Request, res: Response, token: unknown): boolean {
    if (!this.key || typeof token !== "string" || !this.isOperator(token)) return false;
    const { value } = issueSession(this.key, this.clock.now());
    res.cookie(SESSION_COOKIE, value, {
      httpOnly: true,
      sameSite: "strict",
      path: COOKIE_PATH,
      secure: overHttps(req),
      maxAge: SESSION_LIFETIME_SECONDS * 1000,
    });
    return true;
  }

  logout(req: Request, res: Response): void {
    res.clearCookie(SESSION_COOKIE, { httpOnly: true, sameSite: "strict", path: COOKIE_PATH, secure: overHttps(req) });
  }

  /** The posted CSRF token is the one this viewer's pages carry (derived from the session's nonce). */
  csrfValid(viewer: Viewer, candidate: unknown): boolean {
    return sameToken(viewer.csrf, candidate);
  }
}

/**
 * Whether a state-changing request comes from another site: a browser says so in Sec-Fetch-Site
 * (only same-origin, or "none" for a user's own navigation, pass) or in an Origin that is not
 * this host. Requests without either (older browsers, curl) still need the CSRF token.
 */
export function crossSite(req: Request): boolean {
  const site = req.header("sec-fetch-site")?.toLowerCase();
  if (site !== undefined && site !== "same-origin" && site !== "none") return true;
  const origin = req.header("origin");
  if (origin === undefined) return false;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    return true; // "null" (an opaque origin) and garbage
  }
  const ours = [req.header("host"), req.header("x-forwarded-host")?.split(",")[0]?.trim()].filter(Boolean);
  return !ours.includes(host);
}
