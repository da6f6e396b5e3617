import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from "jose";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { AppError } from "../../src/errors.ts";
import { httpStatusOf } from "../../src/http/errorStatus.ts";
import { looksLikeJwt, PubsubTokenVerifier, type PubsubOidcOptions } from "../../src/auth/pubsubOidc.ts";

// Real HTTP: a local JWKS server stands in for https://www.googleapis.com/oauth2/v3/certs.

const AUDIENCE = "https://relay.example.com/pubsub/push";
const ACCOUNT = "push@project.iam.gserviceaccount.com";
const NOW_MS = Date.UTC(2030, 0, 1, 12, 0, 0);
const nowSeconds = Math.floor(NOW_MS / 1000);

interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  jwk: JWK;
}

async function signingKey(kid: string): Promise<SigningKey> {
  const { publicKey, privateKey } = await generateKeyPair("RS256", { extractable: true });
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: "RS256", use: "sig" } };
}

/** What the JWKS server answers; tests change it. */
const served = { keys: [] as JWK[], status: 200, hang: false };
let requests = 0;
let server: Server;
let jwksUrl: string;
let keyA: SigningKey;
let keyB: SigningKey;
let keyC: SigningKey;

beforeAll(async () => {
  [keyA, keyB, keyC] = await Promise.all([signingKey("key-a"), signingKey("key-b"), signingKey("key-c")]);
  served.keys = [keyA.jwk];
  server = createServer((_req, res) => {
    requests += 1;
    if (served.hang) return;
    res.writeHead(served.status, { "content-type": "application/json" });
    res.end(JSON.stringify({ keys: served.keys }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/oauth2/v3/certs`;
});

afterEach(() => {
  served.keys = [keyA.jwk];
  served.status = 200;
  served.hang = false;
  requests = 0;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function verifier(options: Partial<PubsubOidcOptions> = {}): PubsubTokenVerifier {
  return new PubsubTokenVerifier({
    audience: AUDIENCE,
    serviceAccounts: [ACCOUNT],
    jwksUrl,
    clock: { now: () => NOW_MS },
    ...options,
  });
}

const googleClaims = (): JWTPayload => ({
  iss: "https://accounts.google.com",
  aud: AUDIENCE,
  sub: "112233445566778899",
  email: ACCOUNT,
  email_verified: true,
  iat: nowSeconds - 60,
  exp: nowSeconds + 3540,
});

function mint(claims: JWTPayload = {}, key: SigningKey = keyA, kid: string = key.kid): Promise<string> {
  const payload = { ...googleClaims(), ...claims };
  // `undefined` in the overrides means "leave the claim out".
  for (const name of Object.keys(payload)) if (payload[name] === undefined) delete payload[name];
  return new SignJWT(payload).setProtectedHeader({ alg: "RS256", kid, typ: "JWT" }).sign(key.privateKey);
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

/** The AppError verify() rejects with; also checks the token never leaks into the message. */
async function rejection(v: PubsubTokenVerifier, token: string): Promise<AppError> {
  const error = await v.verify(token).then(
    () => expect.unreachable("the token was accepted"),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AppError);
  const appError = error as AppError;
  if (token.length > 8) {
    expect(appError.message).not.toContain(token);
    for (const segment of token.split(".")) if (segment.length > 8) expect(appError.message).not.toContain(segment);
  }
  return appError;
}

async function expectCode(v: PubsubTokenVerifier, token: string, code: string, status: number): Promise<AppError> {
  const error = await rejection(v, token);
  expect({ code: error.code, status: httpStatusOf(error.code) }).toEqual({ code, status });
  return error;
}

describe("PubsubTokenVerifier", () => {
  it("accepts a valid Google token and returns its identity", async () => {
    expect(await verifier().verify(await mint())).toEqual({ email: ACCOUNT, subject: "112233445566778899" });
  });

  it("accepts both spellings of Google's issuer", async () => {
    const v = verifier();
    for (const iss of ["accounts.google.com", "https://accounts.google.com"]) {
      expect((await v.verify(await mint({ iss }))).email).toBe(ACCOUNT);
    }
  });

  it("compares the service account case-insensitively", async () => {
    const v = verifier({ serviceAccounts: ["other@x.iam.gserviceaccount.com", ACCOUNT.toUpperCase()] });
    expect((await v.verify(await mint())).email).toBe(ACCOUNT);
  });

  it("fetches the key set once and serves later tokens from jose's cache", async () => {
    const v = verifier();
    await v.verify(await mint());
    await v.verify(await mint());
    expect(requests).toBe(1);
  });

  describe("401 unauthorized", () => {
    it("rejects a kid that is not in the key set, even after refetching", async () => {
      const v = verifier({ jwksCooldownMs: 0 });
      await v.verify(await mint());
      const error = await expectCode(v, await mint({}, keyC), "unauthorized", 401);
      expect(error.message).toMatch(/key/);
      expect(requests).toBe(2);
    });

    it("rejects a token signed by another key under a known kid (bad signature)", async () => {
      const error = await expectCode(verifier(), await mint({}, keyC, keyA.kid), "unauthorized", 401);
      expect(error.message).toMatch(/signature/);
    });

    it("rejects a token whose payload was altered after signing", async () => {
      const [header, , signature] = (await mint()).split(".");
      const forged = `${header}.${b64({ ...googleClaims(), email: "attacker@evil.iam.gserviceaccount.com" })}.${signature}`;
      await expectCode(verifier(), forged, "unauthorized", 401);
    });

    it("rejects alg none without fetching keys", async () => {
      const unsigned = `${b64({ alg: "none", typ: "JWT" })}.${b64(googleClaims())}.`;
      const error = await expectCode(verifier(), unsigned, "unauthorized", 401);
      expect(error.message).toMatch(/RS256/);
      expect(requests).toBe(0);
    });

    it("rejects HS256, even keyed with the public key's modulus", async () => {
      const v = verifier();
      for (const secret of [
        new TextEncoder().encode("a shared secret of at least 32 bytes!"),
        Buffer.from(keyA.jwk.n!, "base64url"),
      ]) {
        const token = await new SignJWT(googleClaims())
          .setProtectedHeader({ alg: "HS256", kid: keyA.kid })
          .sign(secret);
        await expectCode(v, token, "unauthorized", 401);
      }
    });

    it("rejects the wrong audience", async () => {
      const error = await expectCode(
        verifier(),
        await mint({ aud: "https://other.example.com/push" }),
        "unauthorized",
        401,
      );
      expect(error.message).toMatch(/audience/);
    });

    it("rejects the wrong issuer", async () => {
      const v = verifier();
      for (const iss of ["https://evil.example.com", "http://accounts.google.com", "https://accounts.google.com/"]) {
        const error = await expectCode(v, await mint({ iss }), "unauthorized", 401);
        expect(error.message).toMatch(/Google/);
      }
    });

    it("rejects a token that expired 2 minutes ago", async () => {
      const error = await expectCode(
        verifier(),
        await mint({ iat: nowSeconds - 3720, exp: nowSeconds - 120 }),
        "unauthorized",
        401,
      );
      expect(error.message).toMatch(/expired/);
    });

    it("accepts a token that expired 30 s ago (within the 60 s skew)", async () => {
      expect((await verifier().verify(await mint({ iat: nowSeconds - 3630, exp: nowSeconds - 30 }))).email).toBe(
        ACCOUNT,
      );
    });

    it("honours a smaller clock tolerance", async () => {
      await expectCode(
        verifier({ clockToleranceSeconds: 10 }),
        await mint({ exp: nowSeconds - 30 }),
        "unauthorized",
        401,
      );
    });

    it("rejects a token without exp", async () => {
      await expectCode(verifier(), await mint({ exp: undefined }), "unauthorized", 401);
    });

    it("rejects garbage without fetching keys", async () => {
      const v = verifier();
      for (const garbage of ["", "abc", "a.b.c", "..", "Bearer x.y.z", `${b64({ alg: "RS256" })}.${b64("claims")}`]) {
        const error = await expectCode(v, garbage, "unauthorized", 401);
        expect(error.message).toMatch(/not valid/);
      }
      expect(requests).toBe(0);
    });
  });

  describe("key rotation", () => {
    it("accepts a token signed with a key added after the set was cached", async () => {
      const v = verifier({ jwksCooldownMs: 0 });
      await v.verify(await mint());
      served.keys = [keyA.jwk, keyB.jwk];
      expect((await v.verify(await mint({}, keyB))).email).toBe(ACCOUNT);
      expect(requests).toBe(2);
      // The old key still works from the refreshed set.
      await v.verify(await mint());
      expect(requests).toBe(2);
    });

    it("does not refetch within the cooldown: a new kid is rejected until it has passed", async () => {
      const v = verifier({ jwksCooldownMs: 30_000 });
      await v.verify(await mint());
      served.keys = [keyA.jwk, keyB.jwk];
      await expectCode(v, await mint({}, keyB), "unauthorized", 401);
      expect(requests).toBe(1);
    });
  });

  describe("403 forbidden", () => {
    it("rejects a valid token from a service account that is not allowed", async () => {
      const error = await expectCode(
        verifier(),
        await mint({ email: "someone-else@project.iam.gserviceaccount.com" }),
        "forbidden",
        403,
      );
      expect(error.message).toContain("someone-else@project.iam.gserviceaccount.com");
    });

    it("rejects email_verified: false", async () => {
      await expectCode(verifier(), await mint({ email_verified: false }), "forbidden", 403);
    });

    it('rejects a missing email_verified, and the string "true"', async () => {
      const v = verifier();
      await expectCode(v, await mint({ email_verified: undefined }), "forbidden", 403);
      await expectCode(v, await mint({ email_verified: "true" }), "forbidden", 403);
    });

    it("rejects a token without an email", async () => {
      await expectCode(verifier(), await mint({ email: undefined }), "forbidden", 403);
    });
  });

  describe("503 auth_unavailable (retryable)", () => {
    it("when the key set answers 500", async () => {
      served.status = 500;
      const error = await expectCode(verifier(), await mint(), "auth_unavailable", 503);
      expect(error.retryable).toBe(true);
    });

    it("when the key set server is closed", async () => {
      const closed = createServer();
      await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
      const port = (closed.address() as AddressInfo).port;
      await new Promise((resolve) => closed.close(resolve));
      const v = verifier({ jwksUrl: `http://127.0.0.1:${port}/certs` });
      const error = await expectCode(v, await mint(), "auth_unavailable", 503);
      expect(error.retryable).toBe(true);
    });

    it("when the key set request times out", async () => {
      served.hang = true;
      const started = performance.now();
      const error = await expectCode(verifier({ jwksTimeoutMs: 200 }), await mint(), "auth_unavailable", 503);
      expect(error.message).toMatch(/timed out/);
      expect(performance.now() - started).toBeLessThan(2_000);
    });

    it("when the key set is not JSON or not a key set", async () => {
      served.keys = "not a key set" as unknown as JWK[];
      await expectCode(verifier(), await mint(), "auth_unavailable", 503);
    });

    it("when a refetch for a rotated key fails", async () => {
      const v = verifier({ jwksCooldownMs: 0 });
      await v.verify(await mint());
      served.status = 503;
      await expectCode(v, await mint({}, keyB), "auth_unavailable", 503);
    });

    it("recovers once the key set is back (failures are not cached)", async () => {
      served.status = 500;
      const v = verifier();
      await expectCode(v, await mint(), "auth_unavailable", 503);
      served.status = 200;
      expect((await v.verify(await mint())).email).toBe(ACCOUNT);
    });
  });

  it("refuses a configuration that could never accept a token", () => {
    expect(() => verifier({ serviceAccounts: [] })).toThrow(/service account/);
    expect(() => verifier({ serviceAccounts: [" "] })).toThrow(/service account/);
    expect(() => verifier({ audience: "" })).toThrow(/audience/);
    expect(() => verifier({ jwksUrl: "not a url" })).toThrow();
  });
});

describe("looksLikeJwt", () => {
  it("is true for compact JWS shapes whose header has alg", async () => {
    expect(looksLikeJwt(await mint())).toBe(true);
    expect(looksLikeJwt(`${b64({ alg: "none" })}.${b64({})}.`)).toBe(true);
  });

  it("is false for anything else", () => {
    for (const value of [
      "",
      "abc",
      "a.b.c",
      "a.b",
      "a.b.c.d",
      "static-api-token-0123456789",
      `${b64({ typ: "JWT" })}.${b64({})}.sig`, // no alg
      `${b64({ alg: 1 })}.${b64({})}.sig`,
      `${b64(["alg"])}.${b64({})}.sig`,
      `${b64({ alg: "RS256" })}..sig`,
      `${b64({ alg: "RS256" })}.${b64({})}.s+g`,
      `${b64({ alg: "RS256" })}=.${b64({})}.sig`,
      `${Buffer.from("not json").toString("base64url")}.${b64({})}.sig`,
    ]) {
      expect(looksLikeJwt(value), value).toBe(false);
    }
  });
});
