import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from "jose";

/** A stand-in for Google's token signing: a key set served over HTTP, and tokens signed with it. */
export interface GoogleTokens {
  jwksUrl: string;
  /** A Google-style push token; claims override the defaults (iss, aud, email, email_verified, exp). */
  sign(claims?: JWTPayload, options?: { kid?: string; expiresInSeconds?: number }): Promise<string>;
  close(): Promise<void>;
}

export async function startGoogleTokens(defaults: { audience: string; email: string }): Promise<GoogleTokens> {
  const { publicKey, privateKey } = await generateKeyPair("RS256", { extractable: true });
  const stranger = await generateKeyPair("RS256", { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: "google-key-1", alg: "RS256", use: "sig" };
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const keys: Record<string, CryptoKey> = { "google-key-1": privateKey, "unknown-key": stranger.privateKey };
  return {
    jwksUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/oauth2/v3/certs`,
    async sign(claims = {}, options = {}) {
      const kid = options.kid ?? "google-key-1";
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ email: defaults.email, email_verified: true, ...claims })
        .setProtectedHeader({ alg: "RS256", kid, typ: "JWT" })
        .setIssuer((claims.iss as string | undefined) ?? "https://accounts.google.com")
        .setAudience((claims.aud as string | undefined) ?? defaults.audience)
        .setSubject("112233445566778899")
        .setIssuedAt(now - 10)
        .setExpirationTime(now + (options.expiresInSeconds ?? 3600))
        .sign(keys[kid]!);
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
