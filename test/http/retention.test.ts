import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase } from "../../src/db/database.ts";
import { migrate } from "../../src/db/migrate.ts";
import { NotificationStore } from "../../src/db/notificationStore.ts";
import { eventDigest } from "../../src/core/eventDigest.ts";
import { makeEvent, wrapped } from "../helpers/events.ts";
import { startHarness, type Harness } from "../helpers/relayHarness.ts";
import { createPostgresDatabase, usingPostgres } from "../helpers/testDatabase.ts";
import { insertClaimed } from "../helpers/claimedRow.ts";

const DAY = 86_400_000;
let h: Harness;
beforeAll(async () => {
  // The whole request budget for each Svix call: these tests expect delivery at once, and the
  // default 3 s timed out once on a loaded machine (the first call of a fresh relay).
  h = await startHarness({
    SVIX_MAX_RETRIES: "0",
    CIRCUIT_FAILURE_THRESHOLD: "1000",
    PAYLOAD_RETENTION_DAYS: "30",
    SVIX_TIMEOUT_MS: "7000",
  });
});
afterAll(() => h.close());

const row = (eventId: string) => h.container.db.prisma.notification.findUniqueOrThrow({ where: { eventId } });
const age = (eventId: string, days: number) =>
  h.container.db.prisma.notification.update({
    where: { eventId },
    data: { createdAt: new Date(Date.now() - days * DAY) },
  });

describe("personal-data retention", () => {
  it("clears the payloads of settled notifications and quarantined bodies past the retention, keeping the audit rows", async () => {
    const old = makeEvent({ data: { email: "old.person@example.com" } });
    const recent = makeEvent();
    const waiting = makeEvent();
    await h.http.post("/notifications").send(old).expect(200);
    await h.http.post("/notifications").send(recent).expect(200);
    h.emulator.faults.add({ kind: "status", status: 503, operation: "message.create", times: 1 });
    await h.http.post("/notifications").send(waiting).expect(202);
    await h.http
      .post("/notifications")
      .send(wrapped({ id: "evt_poison", object: "event", email: "poison@example.com" }))
      .expect(200);
    for (const id of [old.id, waiting.id]) await age(id, 31);
    await h.container.db.prisma.quarantinedMessage.updateMany({
      data: { receivedAt: new Date(Date.now() - 31 * DAY) },
    });

    const result = await h.container.purge.purgeAll();
    expect(result).toMatchObject({ payloads: 1, notifications: 0, skipped: false });
    expect(result.quarantineBodies).toBeGreaterThanOrEqual(1);

    const purged = await row(old.id);
    expect(purged).toMatchObject({ status: "delivered", payload: null, payloadDigest: eventDigest(old) });
    expect(purged.payloadPurgedAt).toBeInstanceOf(Date);
    expect(await h.container.db.prisma.deliveryAttempt.count({ where: { eventId: old.id } })).toBe(1);
    // Not settled (the dispatcher still needs it), or not old enough: kept.
    expect((await row(waiting.id)).payload).not.toBeNull();
    expect((await row(recent.id)).payload).not.toBeNull();
    const quarantine = await h.container.db.prisma.quarantinedMessage.findMany({ where: { eventId: "evt_poison" } });
    expect(quarantine.every((q) => q.body === null && q.bodyPurgedAt !== null)).toBe(true);
    expect(JSON.stringify(await h.container.db.prisma.notification.findMany())).not.toContain("old.person@example.com");

    // A redelivery of the purged event is still recognised (by its digest): no second message.
    expect((await h.http.post("/notifications").send(old).expect(200)).body.data.duplicate).toBe(true);
    expect(h.emulator.state.allMessages().filter((m) => m.eventId === old.id)).toHaveLength(1);
  });

  it("refuses to replay a notification whose payload is gone, saying why", async () => {
    const event = makeEvent({ type: "not a type!" });
    await h.http.post("/notifications").send(event).expect(422);
    await age(event.id, 40);
    await h.container.purge.purgeAll();
    const res = await h.http.post(`/notifications/${event.id}/replay`).type("json").expect(410);
    expect(res.body.error).toMatchObject({ code: "payload_purged" });
    expect(res.body.error.message).toMatch(/personal-data retention/);
  });
});

describe("DELETE /notifications/:eventId/payload (an erasure request)", () => {
  it("erases a delivered notification's payload at once", async () => {
    const event = makeEvent();
    await h.http.post("/notifications").send(event).expect(200);
    const res = await h.http.delete(`/notifications/${event.id}/payload`).type("json").expect(200);
    expect(res.body.data).toMatchObject({ eventId: event.id, status: "delivered" });
    expect(res.body.data.payloadPurgedAt).not.toBeNull();
    expect((await row(event.id)).payload).toBeNull();
  });

  it("turns a queued notification failed: it can never be sent without its payload", async () => {
    h.emulator.faults.add({ kind: "status", status: 503, operation: "message.create", times: 1 });
    const event = makeEvent();
    await h.http.post("/notifications").send(event).expect(202);
    const res = await h.http.delete(`/notifications/${event.id}/payload`).type("json").expect(200);
    expect(res.body.data).toMatchObject({ status: "failed", lastError: { code: "payload_erased" } });
    await h.container.db.prisma.notification.update({
      where: { eventId: event.id },
      data: { nextAttemptAt: new Date(0) },
    });
    await h.container.dispatcher.pass();
    // Never picked up again (other tests' rows in this file may be, when they come due).
    expect((await row(event.id)).status).toBe("failed");
    expect(h.emulator.state.allMessages().filter((m) => m.eventId === event.id)).toHaveLength(0);
  });

  it("waits for a delivery in flight (503) and answers 404 for an unknown event", async () => {
    const event = await insertClaimed(h.container.store, {
      claimToken: "live",
      claimExpiresAt: new Date(Date.now() + 60_000),
    });
    const res = await h.http
      .delete(`/notifications/${event.id}/payload`)
      .type("json")
      .expect(503)
      .expect("retry-after", "1");
    expect(res.body.error).toMatchObject({
      code: "event_in_flight",
      message: `Event ${event.id} is being delivered right now; try again shortly`,
    });
    await h.http.delete("/notifications/evt_unknown/payload").type("json").expect(404);
  });
});

describe("npm run purge", () => {
  it("applies retention once from the command line, batch after batch, and says what it did", async () => {
    let env: Record<string, string>;
    let cleanup: () => Promise<void>;
    if (usingPostgres()) {
      const created = await createPostgresDatabase();
      env = { DATABASE_URL: created.url };
      cleanup = created.drop;
    } else {
      const dir = mkdtempSync(join(tmpdir(), "relay-purge-"));
      env = { DATA_DIR: dir };
      cleanup = async () => rmSync(dir, { recursive: true, force: true });
    }
    try {
      const db = await openDatabase({ databaseUrl: env.DATABASE_URL, dataDir: env.DATA_DIR ?? "unused" });
      await migrate(db);
      const store = new NotificationStore({ prisma: db.prisma, sql: db.sql });
      const settled = async (daysOld: number, status: "delivered" | "queued" = "delivered") => {
        const event = await insertClaimed(store, { claimToken: "c", claimExpiresAt: new Date(Date.now() + 60_000) });
        await store.complete(event.id, "c", { status, countsAsFailure: false, attempts: [] });
        const at = new Date(Date.now() - daysOld * DAY);
        await db.prisma.notification.update({ where: { eventId: event.id }, data: { createdAt: at, updatedAt: at } });
        return event.id;
      };
      // More than one batch of each (PURGE_BATCH_SIZE=1): the command goes on until nothing old is left.
      const toClear = [await settled(10), await settled(12)];
      const toDelete = [await settled(40), await settled(50)];
      const waiting = await settled(400, "queued");
      await db.close();

      const child = spawn(process.execPath, ["src/bin/purge.ts"], {
        cwd: join(import.meta.dirname, "..", ".."),
        env: {
          PATH: process.env.PATH ?? "",
          HOME: process.env.HOME ?? "/tmp",
          PAYLOAD_RETENTION_DAYS: "7",
          AUDIT_RETENTION_DAYS: "31",
          PURGE_BATCH_SIZE: "1",
          ...env,
        },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let output = "";
      child.stdout.on("data", (c: Buffer) => (output += c.toString()));
      child.stderr.on("data", (c: Buffer) => (output += c.toString()));
      expect(await new Promise((resolve) => child.once("exit", resolve))).toBe(0);
      expect(output).toBe(
        "cleared, older than 7 days: 2 notification payload(s), 0 quarantined message(s) (body, message and details)\n" +
          "deleted, older than 31 days: 2 notification(s) with 0 delivery attempt(s), 0 delivery event(s), 0 quarantined message(s)\n",
      );

      const after = await openDatabase({ databaseUrl: env.DATABASE_URL, dataDir: env.DATA_DIR ?? "unused" });
      const rows = await after.prisma.notification.findMany();
      expect(rows.filter((r) => toClear.includes(r.eventId)).map((r) => r.payload)).toEqual([null, null]);
      expect(rows.filter((r) => toDelete.includes(r.eventId))).toEqual([]);
      expect(rows.find((r) => r.eventId === waiting)?.payload).not.toBeNull();
      await after.close();
    } finally {
      await cleanup();
    }
  });
});
