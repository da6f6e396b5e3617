import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGoogleTokens, type GoogleTokens } from "../helpers/googleTokens.ts";
import { makeEvent } from "../helpers/events.ts";
import { type Harness, startHarness } from "../helpers/relayHarness.ts";

// Guessing credentials is throttled per client; INGEST_AUTH=platform still verifies who posts.
const OPERATOR = "operator-token-0123456789";
const INGEST = "ingest-token-0123456789";

async function counter(h: Harness, name: "authFailures" | "authThrottled"): Promise<number> {
  return (await h.container.metrics[name].get()).values[0]?.value ?? 0;
}

describe("guessing credentials", () => {
  let h: Harness;
  let now = Date.parse("2026-12-06T10:00:00Z");
  beforeAll(async () => {
    h = await startHarness(
      { API_TOKENS: OPERATOR, INGEST_TOKENS: INGEST, TRUST_PROXY_HOPS: "1" },
      { clock: { now: () => now } },
    );
  });
  afterAll(() => h.close());

  it("answers 429 with Retry-After after 10 wrong tokens in 5 minutes — even to the right token — and counts them", async () => {
    const from = (ip: string) => ({ "x-forwarded-for": ip });
    for (let i = 0; i < 10; i += 1) {
      await h.http
        .get("/notifications")
        .set(from("203.0.113.7"))
        .set("authorization", `Bearer wrong-${i}-token-abcdefgh`)
        .expect(403);
    }
    const refused = await h.http
      .get("/notifications")
      .set(from("203.0.113.7"))
      .set("authorization", `Bearer ${OPERATOR}`)
      .expect(429);
    expect(refused.body.error.code).toBe("too_many_attempts");
    expect(Number(refused.headers["retry-after"])).toBe(300);
    // Another client is not held back, and anonymous requests are not guesses.
    await h.http.get("/notifications").set(from("198.51.100.1")).set("authorization", `Bearer ${OPERATOR}`).expect(200);
    await h.http.get("/notifications").set(from("203.0.113.7")).expect(401);
    expect(await counter(h, "authFailures")).toBe(10);
    expect(await counter(h, "authThrottled")).toBe(1);
    // Five minutes after the first failure the client may try again.
    now += 300_000;
    await h.http.get("/notifications").set(from("203.0.113.7")).set("authorization", `Bearer ${OPERATOR}`).expect(200);
  });

  it("counts a wrong ?token= and a wrong dashboard login the same way", async () => {
    const ip = { "x-forwarded-for": "192.0.2.44" };
    for (let i = 0; i < 5; i += 1) {
      await h.http
        .post(`/notifications?token=wrong-${i}-token-abcdefgh`)
        .set(ip)
        .type("json")
        .send(makeEvent())
        .expect(403);
    }
    for (let i = 0; i < 5; i += 1) {
      await h.http
        .post("/dashboard/login")
        .set(ip)
        .type("form")
        .send({ token: `wrong-${i}-token-abcdefgh` })
        .expect(401);
    }
    const page = await h.http.post("/dashboard/login").set(ip).type("form").send({ token: OPERATOR }).expect(429);
    expect(page.text).toMatch(/Too many wrong tokens/);
    expect(page.headers["retry-after"]).toBeDefined();
    await h.http.post(`/notifications?token=${INGEST}`).set(ip).type("json").send(makeEvent()).expect(429);
  });

  it("believes only as many X-Forwarded-For hops as configured: a client cannot pose as another", async () => {
    const strict = await startHarness({ API_TOKENS: OPERATOR }, { clock: { now: () => now } });
    try {
      // Without TRUST_PROXY_HOPS the header is ignored: changing it every time does not escape.
      for (let i = 0; i < 10; i += 1) {
        await strict.http
          .get("/notifications")
          .set("x-forwarded-for", `10.0.0.${i}`)
          .set("authorization", `Bearer wrong-${i}-token-abcdefgh`)
          .expect(403);
      }
      await strict.http
        .get("/notifications")
        .set("x-forwarded-for", "10.0.0.99")
        .set("authorization", `Bearer ${OPERATOR}`)
        .expect(429);
    } finally {
      await strict.close();
    }
  });
});

describe("INGEST_AUTH=platform verifies the caller's Google-signed ID token", () => {
  const AUDIENCE = "https://relay-abc-uc.a.run.app";
  const ACCOUNT = "orders@gigs-platform.iam.gserviceaccount.com";
  let google: GoogleTokens;
  let h: Harness;
  beforeAll(async () => {
    google = await startGoogleTokens({ audience: AUDIENCE, email: ACCOUNT });
    h = await startHarness({
      INGEST_AUTH: "platform",
      PLATFORM_AUDIENCE: AUDIENCE,
      PLATFORM_SERVICE_ACCOUNT: ACCOUNT,
      PUBSUB_JWKS_URL: google.jwksUrl,
      API_TOKENS: OPERATOR,
    });
  });
  afterAll(async () => {
    await h.close();
    await google.close();
  });

  const post = (token?: string) => {
    const req = h.http.post("/notifications").type("json");
    return (token ? req.set("authorization", `Bearer ${token}`) : req).send(makeEvent());
  };

  it("takes a post with a valid token of an allowed account", async () => {
    expect((await post(await google.sign()).expect(200)).body.data.status).toBe("delivered");
  });

  it("refuses a post without a token, with another audience's, or from another account", async () => {
    await post().expect(401);
    await post(await google.sign({ aud: "https://other-service.a.run.app" })).expect(401);
    await post(await google.sign({ email: "intruder@evil.iam.gserviceaccount.com" })).expect(403);
    await post(await google.sign({}, { kid: "unknown-key" })).expect(401);
  });

  it("lets the platform's token post events only", async () => {
    await h.http
      .get("/notifications")
      .set("authorization", `Bearer ${await google.sign()}`)
      .expect(403);
  });
});
