import { spawn } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { makeEvent } from "../helpers/events.ts";
import { startHarness, type Harness } from "../helpers/relayHarness.ts";

const OPERATOR = "operator-token-0123456789";
const INGEST = "ingest-token-0123456789ab";
let h: Harness;
beforeAll(async () => {
  h = await startHarness({
    SVIX_MAX_RETRIES: "0",
    CIRCUIT_FAILURE_THRESHOLD: "1000",
    API_TOKENS: OPERATOR,
    INGEST_TOKENS: INGEST,
    EVENT_TYPE_CATALOG: "true",
  });
});
afterAll(() => h.close());
beforeEach(() => h.emulator.reset());

const asOperator = { authorization: `Bearer ${OPERATOR}` };
const asIngest = { authorization: `Bearer ${INGEST}` };

describe("POST /projects/:projectId/app-portal", () => {
  it("hands back an app-portal link for a project, creating its application, with the expiry asked for", async () => {
    const before = Date.now();
    const res = await h.http
      .post("/projects/acme-portal/app-portal")
      .set(asOperator)
      .send({ expirySeconds: 3600, readOnly: true, featureFlags: ["beta"] })
      .expect(200);
    expect(res.body.data.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/app-portal\/login#key=/);
    expect(res.body.data.token).toMatch(/^appsk_/);
    const expiresAt = Date.parse(res.body.data.expiresAt);
    expect(expiresAt).toBeGreaterThanOrEqual(before + 3_600_000);
    expect(expiresAt).toBeLessThan(Date.now() + 3_600_000 + 1000);
    expect(h.emulator.state.findApp("acme-portal")).toMatchObject({ uid: "acme-portal", name: "acme-portal" });
    // A second link for the same project uses the same application.
    await h.http.post("/projects/acme-portal/app-portal").set(asOperator).expect(200);
    expect([...h.emulator.state.apps.values()].filter((a) => a.uid === "acme-portal")).toHaveLength(1);
  });

  it("defaults to Svix's 7 days, and refuses what Svix would refuse, one detail each", async () => {
    const res = await h.http.post("/projects/acme-portal/app-portal").set(asOperator).expect(200);
    expect(Date.parse(res.body.data.expiresAt) - Date.now()).toBeGreaterThan(7 * 86_400_000 - 60_000);
    const bad = await h.http
      .post("/projects/acme-portal/app-portal")
      .set(asOperator)
      .send({ expirySeconds: 60, readOnly: "yes", featureFlags: ["not ok!"], color: "red" })
      .expect(400);
    expect(bad.body.error.details.map((d: { path: string }) => d.path).sort()).toEqual([
      "/color",
      "/expirySeconds",
      "/featureFlags/0",
      "/readOnly",
    ]);
  });

  it("refuses a project id Svix and the ledger cannot hold, naming the path, before calling Svix", async () => {
    const res = await h.http.post("/projects/a%00b/app-portal").set(asOperator).expect(400);
    expect(res.body.error).toMatchObject({
      code: "invalid_query",
      message: "Invalid project id",
      details: [
        {
          path: "projectId",
          message: "must be 1 to 256 characters and must not contain NUL (\\u0000) or unpaired UTF-16 surrogates",
        },
      ],
    });
    await h.http
      .post(`/projects/${"p".repeat(257)}/app-portal`)
      .set(asOperator)
      .expect(400);
    expect(h.emulator.calls).toHaveLength(0);
  });

  it("maps a Svix failure like everywhere else, and is for operators only", async () => {
    h.emulator.faults.add({ kind: "status", status: 503, operation: "appPortalAccess", times: 1 });
    expect((await h.http.post("/projects/acme-portal/app-portal").set(asOperator).expect(503)).body.error.code).toBe(
      "svix_unavailable",
    );
    await h.http.post("/projects/acme-portal/app-portal").set(asIngest).expect(403);
    await h.http.post("/projects/acme-portal/app-portal").expect(401);
  });
});

describe("replay after an outage: one single, one bulk", () => {
  it("lists six failures with their attempts, then delivers all six exactly once", async () => {
    h.emulator.faults.add({ kind: "status", status: 503, operation: "message.create" });
    const events = Array.from({ length: 6 }, (_, i) => makeEvent({ project: i < 3 ? "replay-a" : "replay-b" }));
    for (const event of events) await h.http.post("/notifications").set(asIngest).send(event).expect(202);
    const listed = (
      await h.http.get("/notifications").set(asOperator).query({ status: "queued", project: "replay-a" }).expect(200)
    ).body.data;
    expect(listed).toHaveLength(3);
    expect(
      listed.every(
        (n: { attemptCount: number; lastError: { code: string } }) =>
          n.attemptCount === 1 && n.lastError.code === "svix_unavailable",
      ),
    ).toBe(true);
    const detail = (await h.http.get(`/notifications/${events[0]!.id}`).set(asOperator).expect(200)).body.data;
    expect(detail.attempts).toEqual([
      expect.objectContaining({ operation: "message.create", outcome: "retryable", httpStatus: 503 }),
    ]);

    h.emulator.faults.clear();
    expect(
      (await h.http.post(`/notifications/${events[0]!.id}/replay`).set(asOperator).expect(200)).body.data.status,
    ).toBe("delivered");
    const bulk = await h.http
      .post("/notifications/replay")
      .set(asOperator)
      .send({ status: "queued", limit: 100 })
      .expect(200);
    expect(bulk.body.data).toMatchObject({ delivered: 5, stillFailing: 0, skippedDelivered: 0 });
    // Again: nothing left to replay, and nothing sent twice.
    expect(
      (await h.http.post("/notifications/replay").set(asOperator).send({ status: "queued" }).expect(200)).body.data
        .matched,
    ).toBe(0);
    const messages = h.emulator.state
      .allMessages()
      .map((m) => m.eventId)
      .sort();
    expect(messages).toEqual(events.map((e) => e.id).sort());
  });

  it("replays rejected ones by project and type, and refuses a filter it does not understand", async () => {
    const a = makeEvent({ project: "replay-c", type: "bad type!" });
    await h.http.post("/notifications").set(asIngest).send(a).expect(422);
    const res = await h.http
      .post("/notifications/replay")
      .set(asOperator)
      .send({ status: "rejected", project: "replay-c" })
      .expect(200);
    expect(res.body.data).toMatchObject({ matched: 1, delivered: 0, stillFailing: 1 });
    const bad = await h.http
      .post("/notifications/replay")
      .set(asOperator)
      .send({ status: "delivered", limit: 5000, projet: "x" })
      .expect(400);
    expect(bad.body.error.details.map((d: { path: string }) => d.path).sort()).toEqual([
      "/limit",
      "/projet",
      "/status",
    ]);
    await h.http.post("/notifications/replay").set(asIngest).send({ status: "queued" }).expect(403);
  });
});

describe("Svix's event-type catalog", () => {
  it("gets each declared type once, with its declared description and schema, without delaying deliveries", async () => {
    const type = "subscription.activated";
    for (let i = 0; i < 3; i += 1)
      await h.http.post("/notifications").set(asIngest).send(makeEvent({ type })).expect(200);
    await h.container.eventTypes!.settle();
    expect(h.emulator.calls.filter((c) => c.operation === "eventType.upsert")).toHaveLength(1);
    expect(h.emulator.state.eventTypes.get(type)).toMatchObject({
      name: type,
      description: h.container.declaredEventTypes.get(type)!.description,
      schemas: { "1": expect.objectContaining({ examples: [expect.objectContaining({ type })] }) },
    });
    // Svix holding an older description: brought up to date.
    h.emulator.state.putEventType({ name: "user.deleted", description: "x" });
    await h.http
      .post("/notifications")
      .set(asIngest)
      .send(makeEvent({ type: "user.deleted" }))
      .expect(200);
    await h.container.eventTypes!.settle();
    expect(h.emulator.state.eventTypes.get("user.deleted")?.description).toBe(
      h.container.declaredEventTypes.get("user.deleted")!.description,
    );
    expect(h.logs.some((l) => l.message?.toString().startsWith("could not set the event type"))).toBe(false);
  });
});

describe("npm run replay", () => {
  it("replays from a shell through the relay's API, printing each event and a summary", async () => {
    const server = createServer(h.app);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const run = (args: string[], token = OPERATOR) =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const child = spawn(process.execPath, ["src/bin/replay.ts", ...args], {
          cwd: join(import.meta.dirname, "..", ".."),
          env: { PATH: process.env.PATH ?? "", RELAY_URL: url, RELAY_API_TOKEN: token },
        });
        let out = "";
        child.stdout.on("data", (c: Buffer) => (out += c.toString()));
        child.stderr.on("data", (c: Buffer) => (out += c.toString()));
        child.once("exit", (code) => resolve({ code, out }));
      });
    try {
      h.emulator.faults.add({ kind: "status", status: 503, operation: "message.create" });
      const events = [makeEvent({ project: "replay-cli" }), makeEvent({ project: "replay-cli" })];
      for (const event of events) await h.http.post("/notifications").set(asIngest).send(event).expect(202);
      h.emulator.faults.clear();
      const ok = await run(["--status", "queued", "--project", "replay-cli"]);
      expect(ok.code).toBe(0);
      expect(ok.out).toContain(`${events[0]!.id}\tdelivered`);
      expect(ok.out).toMatch(/matched 2: delivered 2, still failing 0/);
      expect((await run(["--project", "x"])).code).toBe(2);
      const denied = await run(["--status", "queued"], INGEST);
      expect(denied.code).toBe(1);
      expect(denied.out).toMatch(/the relay answered 403/);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
