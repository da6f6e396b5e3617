import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeEvent, wrapped } from "../helpers/events.ts";
import { startHarness, type Harness } from "../helpers/relayHarness.ts";

describe("authentication (API_TOKENS set)", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ API_TOKENS: "token-one,token-two" });
  });
  afterAll(() => h.close());

  it("answers 401 without a token and 403 with a wrong one, before reading the body", async () => {
    expect((await h.http.post("/notifications").send(makeEvent()).expect(401)).body.error.code).toBe("unauthorized");
    expect((await h.http.post("/notifications").set("authorization", "Bearer nope").send(makeEvent()).expect(403)).body.error.code).toBe("forbidden");
    expect((await h.http.get("/notifications").expect(401)).body.error.code).toBe("unauthorized");
    expect(h.emulator.calls).toHaveLength(0);
  });

  it("accepts any configured token as a bearer header, or as ?token= for Pub/Sub push", async () => {
    await h.http.post("/notifications").set("authorization", "Bearer token-two").send(makeEvent()).expect(200);
    await h.http.post("/notifications?token=token-one").send(wrapped(makeEvent())).expect(200);
  });

  it("keeps health, readiness and metrics open for the platform's probes", async () => {
    await h.http.get("/healthz").expect(200);
    await h.http.get("/readyz").expect(200);
    await h.http.get("/metrics").expect(200);
  });

  it("never logs the token from the query string or the header", async () => {
    await h.http.post("/notifications?token=token-one").send(makeEvent()).expect(200);
    expect(h.rawLogs.join("\n")).not.toMatch(/token-one|token-two/);
  });
});

describe("the database going away", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  it("turns readiness to 503 and events to 503 + Retry-After, with nothing sent to Svix and no personal data logged", async () => {
    await h.http.get("/readyz").expect(200);
    // Make every ledger write fail, as a lost database would.
    await h.container.db.prisma.$executeRawUnsafe("ALTER TABLE notifications RENAME TO notifications_gone");
    try {
      const event = makeEvent({ data: { email: "hidden.person@example.com" } });
      const res = await h.http.post("/notifications").send(event).expect(503);
      expect(res.body.error.code).toBe("database_unavailable");
      expect(Number(res.headers["retry-after"])).toBeGreaterThanOrEqual(1);
      expect(h.emulator.calls).toHaveLength(0);
      expect(h.rawLogs.join("\n")).not.toContain("hidden.person@example.com");
    } finally {
      await h.container.db.prisma.$executeRawUnsafe("ALTER TABLE notifications_gone RENAME TO notifications");
    }
    await h.http.post("/notifications").send(makeEvent()).expect(200);
  });

  it("turns readiness to 503 once shutdown begins, while liveness stays 200", async () => {
    h.container.accepting = false;
    try {
      expect((await h.http.get("/readyz").expect(503)).body.status).toBe("shutting_down");
      await h.http.get("/healthz").expect(200);
    } finally {
      h.container.accepting = true;
    }
    await h.http.get("/readyz").expect(200);
  });

  it("reports readiness 503 when the database cannot answer", async () => {
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
