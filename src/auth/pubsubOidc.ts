import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from "jose";
import { type Clock, systemClock } from "../core/ports/clock.ts";
import { AppError } from "../errors.ts";

/** Google signs ID tokens with either spelling of its issuer. */
const GOOGLE_ISSUERS = ["accounts.google.com", "https://accounts.google.com"];

export interface PubsubOidcOptions {
  /** Expected `aud` (PUBSUB_AUDIENCE). */
  audience: string;
  /** Allowed `email` claims (PUBSUB_SERVICE_ACCOUNT, comma-separated in config; already split). */
  serviceAccounts: readonly string[];
  /** JWKS URL; Google's is https://www.googleapis.com/oauth2/v3/certs */
  jwksUrl: string;
  /** Allowed clock skew for exp/nbf, seconds (default 60). (jose checks iat only with maxTokenAge, which we do not set.) */
  clockToleranceSeconds?: number;
  /**
   * The relay's clock (the system's when absent). Only the claim checks (exp/nbf) use it; jose's
   * JWKS cache and cooldown always run on the real clock.
   */
  clock?: Clock;
  /**
   * Minimum time between two JWKS fetches caused by a token whose `kid` is not in the cached set,
   * ms (default 30 000, jose's own default). Bounds how often forged `kid`s can make us call
   * Google; a genuinely rotated key is accepted at most this long after the previous fetch.
   */
  jwksCooldownMs?: number;
  /**
   * Timeout of one JWKS request, ms (default 2 000). jose's 5 s default would eat most of the
   * 10 s Pub/Sub ack deadline before the delivery itself starts.
   */
  jwksTimeoutMs?: number;
}

export interface PubsubIdentity {
  email: string;
  subject: string;
}

/**
 * Verifies the Google-signed OIDC ID token that Pub/Sub push sends as `Authorization: Bearer`.
 * Throws AppError: `unauthorized` (401) when the token is not a valid Google token for our
 * audience, `forbidden` (403) when it is valid but not from an allowed, verified service account,
 * `auth_unavailable` (503) when Google's keys cannot be fetched (our side; Pub/Sub should retry).
 */
export class PubsubTokenVerifier {
  readonly #audience: string;
  readonly #serviceAccounts: ReadonlySet<string>;
  readonly #clockToleranceSeconds: number;
  readonly #clock: Clock;
  readonly #keys: JWTVerifyGetKey;

  /** The audience this verifier accepts (routes a token to its verifier). */
  get audience(): string {
    return this.#audience;
  }

  constructor(options: PubsubOidcOptions) {
    if (!options.audience) throw new TypeError("PubsubTokenVerifier: audience must not be empty");
    const accounts = options.serviceAccounts.map((a) => a.trim().toLowerCase()).filter((a) => a !== "");
    // An empty list would reject every push with 403; that is a configuration mistake, not a policy.
    if (accounts.length === 0) throw new TypeError("PubsubTokenVerifier: at least one service account is required");
    const tolerance = options.clockToleranceSeconds ?? 60;
    if (!Number.isFinite(tolerance) || tolerance < 0)
      throw new TypeError("PubsubTokenVerifier: clockToleranceSeconds must be a non-negative number");

    this.#audience = options.audience;
    this.#serviceAccounts = new Set(accounts);
    this.#clockToleranceSeconds = tolerance;
    this.#clock = options.clock ?? systemClock;
    this.#keys = keyResolver(
      new URL(options.jwksUrl),
      options.jwksCooldownMs ?? 30_000,
      options.jwksTimeoutMs ?? 2_000,
    );
  }

  async verify(token: string): Promise<PubsubIdentity> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.#keys, {
        algorithms: ["RS256"],
        issuer: GOOGLE_ISSUERS,
        audience: this.#audience,
        // jose treats a token without exp as never expiring.
        requiredClaims: ["exp", "sub"],
        clockTolerance: this.#clockToleranceSeconds,
        currentDate: new Date(this.#clock.now()),
      }));
    } catch (error) {
      if (error instanceof AppError) throw error;
      throw new AppError("unauthorized", `The Pub/Sub OIDC token is not valid: ${reasonOf(error)}`);
    }

    const { email, email_verified: emailVerified, sub } = payload;
    if (typeof email !== "string" || email === "") {
      throw new AppError(
        "forbidden",
        "The Pub/Sub OIDC token has no email claim; configure the push subscription with a service account",
      );
    }
    if (!this.#serviceAccounts.has(email.toLowerCase())) {
      throw new AppError(
        "forbidden",
        `The Pub/Sub OIDC token's service account ${JSON.stringify(email)} is not allowed`,
      );
    }
    if (emailVerified !== true) {
      throw new AppError("forbidden", `The Pub/Sub OIDC token's email ${JSON.stringify(email)} is not verified`);
    }
    return { email, subject: sub ?? "" };
  }
}

/**
 * jose's remote key set, with fetch failures turned into `auth_unavailable`. Only "no key for this
 * kid" is the token's fault; anything else the resolver throws (network, timeout, non-200,
 * unparsable set) means we could not check the token at all.
 */
function keyResolver(url: URL, cooldownMs: number, timeoutMs: number): JWTVerifyGetKey {
  const remote = createRemoteJWKSet(url, { cooldownDuration: cooldownMs, timeoutDuration: timeoutMs });
  return async (header, token) => {
    try {
      return await remote(header, token);
    } catch (error) {
      if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) throw error;
      throw new AppError(
        "auth_unavailable",
        `Google's token signing keys could not be fetched (${fetchFailureOf(error)}); try again later`,
        { cause: error },
      );
    }
  };
}

// jose's messages are fixed strings (never the token); still, name the common cases plainly.
function reasonOf(error: unknown): string {
  if (error instanceof errors.JWTExpired) return "it has expired";
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === "iss") return "it was not issued by Google";
    if (error.claim === "aud") return "it was issued for another audience";
    if (error.reason === "missing") return `the ${JSON.stringify(error.claim)} claim is missing`;
    return `the ${JSON.stringify(error.claim)} claim check failed`;
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return "it must be signed with RS256";
  if (error instanceof errors.JWSSignatureVerificationFailed) return "the signature does not match";
  if (error instanceof errors.JWKSNoMatchingKey) return "it was signed with a key Google does not publish";
  if (error instanceof errors.JWKSMultipleMatchingKeys) return "it does not name its signing key";
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) return "it is not a well-formed JWT";
  return "it could not be verified";
}

function fetchFailureOf(error: unknown): string {
  if (error instanceof errors.JWKSTimeout) return "timed out";
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : "";
    return `${error.message}${cause}`;
  }
  return "unknown error";
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/**
 * True when the string has the shape of a compact JWS (three base64url segments, header decodes
 * to JSON with "alg"); cheap, no verification. The signature segment may be empty (`alg: none`),
 * so such tokens are routed to the verifier and rejected there rather than mistaken for something else.
 */
export function looksLikeJwt(token: string): boolean {
  const parts = token.split(".");
  if (parts.length !== 3) return false;
  const [header, payload, signature] = parts as [string, string, string];
  if (!BASE64URL.test(header) || !BASE64URL.test(payload)) return false;
  if (signature !== "" && !BASE64URL.test(signature)) return false;
  try {
    const decoded: unknown = JSON.parse(Buffer.from(header, "base64url").toString("utf8"));
    return (
      typeof decoded === "object" &&
      decoded !== null &&
      !Array.isArray(decoded) &&
      typeof (decoded as { alg?: unknown }).alg === "string"
    );
  } catch {
    return false;
  }
}
