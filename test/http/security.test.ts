import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { makeEvent, wrapped } from "../helpers/events.ts";
import { startGoogleTokens, type GoogleTokens } from "../helpers/googleTokens.ts";
import { startHarness, type Harness } from "../helpers/relayHarness.ts";

const OPERATOR = "operator-token-0123456789";
const INGEST = "ingest-token-0123456789ab";
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe("scoped credentials (API_TOKENS and INGEST_TOKENS set)", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ API_TOKENS: OPERATOR, INGEST_TOKENS: INGEST });
  });
  afterAll(() => h.close());

  it("answers 401 without a credential and 403 with a wrong one, on every route but the probes", async () => {
    const createsBefore = h.emulator.calls.filter((c) => c.operation === "message.create").length;
    for (const [method, path] of [
      ["post", "/notifications"],
      ["get", "/notifications"],
      ["get", "/quarantine"],
      ["get", "/metrics"],
      ["post", "/notifications/x/replay"],
      ["delete", "/notifications/x/payload"],
    ] as const) {
      expect((await h.http[method](path).expect(401)).body.error.code, `${method} ${path}`).toBe("unauthorized");
      expect(
        (await h.http[method](path).set(bearer("not-a-token-of-ours")).expect(403)).body.error.code,
        `${method} ${path}`,
      ).toBe("forbidden");
    }
    await h.http.get("/healthz").expect(200);
    await h.http.get("/readyz").expect(200);
    expect(h.emulator.calls.filter((c) => c.operation === "message.create")).toHaveLength(createsBefore);
  });

  it("refuses an unauthenticated body before reading it: 401, not 413", async () => {
    const res = await h.http
      .post("/notifications")
      .send({ blob: "x".repeat(3 * 1024 * 1024) })
      .expect(401);
    expect(res.body.error.code).toBe("unauthorized");
  });

  it("lets an ingest token post events, from the header or ?token= in a push URL, and nothing else", async () => {
    await h.http.post("/notifications").set(bearer(INGEST)).send(makeEvent()).expect(200);
    const event = makeEvent();
    await h.http.post(`/notifications?token=${INGEST}`).send(wrapped(event)).expect(200);
    for (const [method, path] of [
      ["get", "/notifications"],
      ["get", `/notifications/${event.id}`],
      ["get", "/quarantine"],
      ["get", "/metrics"],
      ["post", `/notifications/${event.id}/replay`],
      ["delete", `/notifications/${event.id}/payload`],
    ] as const) {
      expect(
        (await h.http[method](path).set(bearer(INGEST)).expect(403)).body.error.message,
        `${method} ${path}`,
      ).toMatch(/may not use operator routes/);
    }
  });

  it("lets an operator token do everything, from the Authorization header only, whatever the scheme's case", async () => {
    const event = makeEvent();
    await h.http.post("/notifications").set("authorization", `bearer ${OPERATOR}`).send(event).expect(200);
    await h.http.get(`/notifications/${event.id}`).set("authorization", `BEARER ${OPERATOR}`).expect(200);
    await h.http.get("/metrics").set(bearer(OPERATOR)).expect(200);
    await h.http.get("/quarantine").set(bearer(OPERATOR)).expect(200);
    const res = await h.http.get(`/notifications?token=${OPERATOR}`).expect(403);
    expect(res.body.error.message).toMatch(/Authorization header only/);
  });

  it("does not let a header that is not ours (a Google JWT, PUBSUB_AUDIENCE unset) hide a valid ?token=", async () => {
    const googleJwt =
      "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIiwidHlwIjoiSldUIn0.eyJpc3MiOiJodHRwczovL2FjY291bnRzLmdvb2dsZS5jb20ifQ.c2lnbmF0dXJl";
    await h.http.post(`/notifications?token=${INGEST}`).set(bearer(googleJwt)).send(wrapped(makeEvent())).expect(200);
    await h.http.post("/notifications").set(bearer(googleJwt)).send(wrapped(makeEvent())).expect(403);
  });

  it("never logs a token, from the query string or the header", async () => {
    await h.http.post(`/notifications?token=${INGEST}`).send(makeEvent()).expect(200);
    await h.http.get("/notifications").set(bearer(OPERATOR)).expect(200);
    expect(h.rawLogs.join("\n")).not.toMatch(new RegExp(`${OPERATOR}|${INGEST}`));
  });
});

describe("verified Pub/Sub push (PUBSUB_AUDIENCE set)", () => {
  const AUDIENCE = "https://relay.example.com/notifications";
  const ACCOUNT = "relay-push@gigs-prod.iam.gserviceaccount.com";
  let google: GoogleTokens;
  let h: Harness;
  beforeAll(async () => {
    google = await startGoogleTokens({ audience: AUDIENCE, email: ACCOUNT });
    h = await startHarness({
      PUBSUB_AUDIENCE: AUDIENCE,
      PUBSUB_SERVICE_ACCOUNT: ACCOUNT,
      PUBSUB_JWKS_URL: google.jwksUrl,
      API_TOKENS: OPERATOR,
    });
  });
  afterAll(async () => {
    await h.close();
    await google.close();
  });

  it("admits a push with a valid Google-signed token, and that token may do nothing else", async () => {
    const token = await google.sign();
    const event = makeEvent();
    expect(
      (await h.http.post("/notifications").set(bearer(token)).send(wrapped(event)).expect(200)).body.data.status,
    ).toBe("accepted");
    await h.settle();
    expect((await h.container.store.summary(event.id))?.status).toBe("delivered");
    await h.http.get("/notifications").set(bearer(token)).expect(403);
    await h.http.get("/metrics").set(bearer(token)).expect(403);
  });

  it("refuses every forged, expired or misdirected token", async () => {
    const messagesBefore = h.emulator.state.allMessages().length;
    const unsigned = `${Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url")}.${Buffer.from(JSON.stringify({ iss: "https://accounts.google.com", aud: AUDIENCE, email: ACCOUNT, email_verified: true, exp: Math.floor(Date.now() / 1000) + 600 })).toString("base64url")}.`;
    const cases: Array<[string, Promise<string> | string, number]> = [
      ["signed with a key Google does not publish", google.sign({}, { kid: "unknown-key" }), 401],
      ["alg none", unsigned, 401],
      ["for another audience", google.sign({ aud: "https://other.example.com" }), 401],
      ["from another issuer", google.sign({ iss: "https://evil.example.com" }), 401],
      ["expired two minutes ago", google.sign({}, { expiresInSeconds: -120 }), 401],
      ["from another service account", google.sign({ email: "someone@evil.iam.gserviceaccount.com" }), 403],
      ["with an unverified email", google.sign({ email_verified: false }), 403],
      ["garbage", "garbage.garbage.garbage", 403],
    ];
    for (const [name, token, status] of cases) {
      const res = await h.http
        .post("/notifications")
        .set(bearer(await token))
        .send(wrapped(makeEvent()));
      expect(res.status, name).toBe(status);
      expect(res.body.error.message, name).not.toContain(await token);
    }
    expect(h.emulator.state.allMessages()).toHaveLength(messagesBefore);
  });

  it("quarantines what a verified Pub/Sub push carries that is not an event, even without Pub/Sub's headers", async () => {
    const res = await h.http
      .post("/notifications")
      .set(bearer(await google.sign()))
      .set("content-type", "application/json")
      .send("not json at all")
      .expect(200);
    expect(res.body.data).toMatchObject({ status: "quarantined", reason: "invalid_json" });
  });
});

describe("logs", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ READINESS_CACHE_MS: "0" });
  });
  afterAll(() => h.close());

  it("write one line per failed request, at ERROR for a 5xx, with the cause's type and code but no payload", async () => {
    await h.container.db.prisma.$executeRawUnsafe("ALTER TABLE notifications RENAME TO notifications_gone");
    const event = makeEvent({ data: { email: "hidden.person@example.com" } });
    const createsBefore = h.emulator.calls.filter((c) => c.operation === "message.create").length;
    let requestId: string;
    try {
      const res = await h.http.post("/notifications").send(event).expect(503);
      expect(res.body.error.code).toBe("database_unavailable");
      expect(Number(res.headers["retry-after"])).toBeGreaterThanOrEqual(1);
      requestId = res.headers["x-request-id"] as string;
    } finally {
      await h.container.db.prisma.$executeRawUnsafe("ALTER TABLE notifications_gone RENAME TO notifications");
    }
    const lines = h.logs.filter((l) => (l.req as { id?: string } | undefined)?.id === requestId);
    expect(lines).toHaveLength(1);
    const [line] = lines;
    expect(line).toMatchObject({ severity: "ERROR", err: { type: "AppError", code: "database_unavailable" } });
    const cause = (line!.err as { cause?: Record<string, unknown> }).cause;
    expect(cause).toMatchObject({ type: "DatabaseError", code: "42P01" });
    expect(JSON.stringify(line)).not.toContain("hidden.person@example.com");
    expect(h.emulator.calls.filter((c) => c.operation === "message.create")).toHaveLength(createsBefore);
  });

  it("keep our own unique request id, and a caller's x-request-id only as clientRequestId", async () => {
    const a = await h.http.post("/notifications").set("x-request-id", "caller-123").send(makeEvent()).expect(200);
    const b = await h.http.post("/notifications").set("x-request-id", "caller-123").send(makeEvent()).expect(200);
    expect(a.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
    expect(a.headers["x-request-id"]).not.toBe(b.headers["x-request-id"]);
    const line = h.logs.find((l) => (l.req as { id?: string } | undefined)?.id === a.headers["x-request-id"]);
    expect(line).toMatchObject({ clientRequestId: "caller-123" });
  });
});

describe("the database going away", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ READINESS_CACHE_MS: "0" });
  });
  afterAll(() => h.close());

  it("turns readiness to 503 once shutdown begins, while liveness stays 200", async () => {
    // A relay of its own: shutdown does not end.
    const stopping = await startHarness({ READINESS_CACHE_MS: "0" });
    onTestFinished(() => stopping.close());
    await stopping.http.get("/readyz").expect(200);
    stopping.container.readiness.stopAccepting();
    expect((await stopping.http.get("/readyz").expect(503)).body.status).toBe("shutting_down");
    await stopping.http.get("/healthz").expect(200);
    await h.http.get("/readyz").expect(200);
  });

  it("reports readiness 503 when the database cannot answer", async () => {
    // A relay of its own: its database does not come back.
    const h = await startHarness({ READINESS_CACHE_MS: "0" });
    onTestFinished(() => h.close());
    if (h.databaseUrl) {
      // PostgreSQL: the database disappears under the relay (its connections are terminated).
      const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
      await admin.connect();
      await admin.query(`DROP DATABASE ${new URL(h.databaseUrl).pathname.slice(1)} WITH (FORCE)`);
      await admin.end();
    } else {
      await h.container.db.close();
    }
    await h.http.get("/readyz").expect(503);
    await h.http.get("/healthz").expect(200);
  });
});

describe("metrics", () => {
  it("count notifications by outcome", async () => {
    const h = await startHarness();
    try {
      await h.http.post("/notifications").send(makeEvent()).expect(200);
      const text = (await h.http.get("/metrics").expect(200)).text;
      expect(text).toMatch(/relay_notifications_total\{outcome="delivered"\} 1/);
      expect(text).toMatch(/relay_svix_calls_total\{operation="message.create",result="ok"\} 1/);
    } finally {
      await h.close();
    }
  });
});
