import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/** The dashboard's session cookie; sent by browsers to /dashboard only (its Path). */
export const SESSION_COOKIE = "relay_session";
export const SESSION_LIFETIME_SECONDS = 8 * 3600;

/** A verified session: the nonce the CSRF token is bound to. */
export interface Session {
  nonce: string;
  expiresAt: Date;
}

const NONCE = /^[A-Za-z0-9_-]{22,64}$/;
const MAC = /^[A-Za-z0-9_-]{43}$/;

/**
 * The key that signs sessions, derived from the operator tokens themselves: every instance with
 * the same API_TOKENS checks the same cookies without shared state, and rotating the tokens ends
 * every session. Undefined without tokens: a key derived from nothing would be public.
 */
export function sessionKey(operatorTokens: readonly string[]): Buffer | undefined {
  if (operatorTokens.length === 0) return undefined;
  const hash = createHash("sha256").update("relay-dashboard-session\0");
  hash.update([...operatorTokens].sort().join("\0"));
  return hash.digest();
}

const mac = (key: Buffer, text: string) => createHmac("sha256", key).update(text).digest();

/** A new session's cookie value: `v1.<expires epoch s>.<nonce>.<HMAC-SHA256, base64url>`. */
export function issueSession(
  key: Buffer,
  nowMs: number,
  lifetimeSeconds = SESSION_LIFETIME_SECONDS,
): { value: string; session: Session } {
  const expires = Math.floor(nowMs / 1000) + lifetimeSeconds;
  const nonce = randomBytes(24).toString("base64url");
  return { value: signSession(key, expires, nonce), session: { nonce, expiresAt: new Date(expires * 1000) } };
}

/** Signs a session value (issueSession's, and tests' forgeries with a key they know). */
export function signSession(key: Buffer, expiresEpochSeconds: number, nonce: string): string {
  const body = `v1.${expiresEpochSeconds}.${nonce}`;
  return `${body}.${mac(key, body).toString("base64url")}`;
}

/** The session a cookie value proves, or undefined: malformed, signed with another key, or expired. */
export function verifySession(key: Buffer | undefined, value: string, nowMs: number): Session | undefined {
  if (!key) return undefined;
  const parts = value.split(".");
  if (parts.length !== 4) return undefined;
  const [version, expires, nonce, signature] = parts as [string, string, string, string];
  if (version !== "v1" || !/^\d{1,12}$/.test(expires) || !NONCE.test(nonce) || !MAC.test(signature)) return undefined;
  const expected = mac(key, `v1.${expires}.${nonce}`);
  const given = Buffer.from(signature, "base64url");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  const expiresMs = Number(expires) * 1000;
  // Not after now, and not beyond a lifetime from now (no cookie of ours lives longer).
  if (expiresMs <= nowMs || expiresMs > nowMs + SESSION_LIFETIME_SECONDS * 1000 + 60_000) return undefined;
  return { nonce, expiresAt: new Date(expiresMs) };
}

/** The hidden form field of a session's forms: bound to its nonce, so another session's does not fit. */
export function csrfToken(key: Buffer, nonce: string): string {
  return mac(key, `csrf\0${nonce}`).toString("base64url");
}

/** Constant-time equality of a posted token with the expected one. */
export function sameToken(expected: string, candidate: unknown): boolean {
  if (typeof candidate !== "string") return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(candidate);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Every value the Cookie header gives `name` (a browser may send two with different paths). */
export function cookieValues(header: string | undefined, name: string): string[] {
  if (!header) return [];
  const values: string[] = [];
  for (const pair of header.split(";")) {
    const at = pair.indexOf("=");
    if (at > 0 && pair.slice(0, at).trim() === name) values.push(pair.slice(at + 1).trim());
  }
  return values;
}
