// The retention worker on a real ledger (PGlite, or PostgreSQL with DATABASE_URL): what one purge
// says and counts, when it stops, and when its timer loop runs. What each kind of row becomes at
// the retention's edges is in retention.test.ts, on the relay the composition root builds.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { createTestDatabase, type TestDatabase } from "../helpers/testDatabase.ts";
import { makeEvent } from "../helpers/events.ts";
import { NotificationStore } from "../../src/db/notificationStore.ts";
import { RetentionStore } from "../../src/db/retentionStore.ts";
import { createMetrics, type Metrics } from "../../src/observability/metrics.ts";
import { eventDigest } from "../../src/core/eventDigest.ts";
import { PurgeWorker, type PurgeWorkerOptions } from "../../src/core/purgeWorker.ts";
import { EMPTY_BATCH } from "../../src/core/ports/retention.ts";
import { captureLogs, type CapturedLogs } from "../helpers/capturedLogs.ts";

const DAY = 86_400_000;
const NOW = new Date("2026-11-30T12:00:00.000Z");
const RETENTION_DAYS = 30;
const AUDIT_RETENTION_DAYS = 90;
// The retention's edges: rows that arrived before them are cleared, or deleted.
const CUTOFF = new Date(NOW.getTime() - RETENTION_DAYS * DAY);
const AUDIT_CUTOFF = new Date(NOW.getTime() - AUDIT_RETENTION_DAYS * DAY);
const SAID = "retention purge: personal data cleared, old audit rows deleted";

let t: TestDatabase;
let store: NotificationStore;
let metrics: Metrics;
let captured: CapturedLogs;
let logs: Array<Record<string, unknown>>;
const freshLogs = () => {
  captured = captureLogs();
  logs = captured.records;
};
const workers: PurgeWorker[] = [];

beforeAll(async () => {
  t = await createTestDatabase();
  store = new NotificationStore({ prisma: t.db.prisma, sql: t.db.sql });
});
afterAll(() => t.drop());
beforeEach(async () => {
  await t.db.prisma.deliveryAttempt.deleteMany();
  await t.db.prisma.notification.deleteMany();
  await t.db.prisma.quarantinedMessage.deleteMany();
  metrics = createMetrics();
  freshLogs();
});
afterEach(async () => {
  vi.useRealTimers();
  vi.restoreAllMocks();
  for (const w of workers.splice(0)) await w.stop();
});

function worker(options: Partial<PurgeWorkerOptions> = {}): PurgeWorker {
  const w = new PurgeWorker({
    retention: new RetentionStore({ prisma: t.db.prisma }),
    logger: captured.logger,
    metrics,
    clock: { now: () => NOW.getTime() },
    payloadRetentionDays: RETENTION_DAYS,
    auditRetentionDays: AUDIT_RETENTION_DAYS,
    intervalMs: 60_000,
    ...options,
  });
  workers.push(w);
  return w;
}

/** A notification that arrived at `createdAt`, in `status`; returns its event id. */
async function notification(
  createdAt: Date,
  status: "delivered" | "rejected" | "failed" | "queued" = "delivered",
): Promise<string> {
  const event = makeEvent();
  await store.insert({
    event,
    transport: { kind: "body" },
    payloadDigest: eventDigest(event),
    status: "queued",
    nextAttemptAt: createdAt,
  });
  await t.db.prisma.notification.update({
    where: { eventId: event.id },
    data: { status, createdAt, updatedAt: createdAt },
  });
  return event.id;
}
async function quarantined(receivedAt: Date): Promise<void> {
  await t.db.prisma.quarantinedMessage.create({
    data: {
      reason: "invalid_json",
      message: "not JSON",
      details: "[]",
      transport: "pull",
      body: Buffer.from("{email: x@example.com"),
      bodyBytes: 21,
      receivedAt,
    },
  });
}
const kept = async (eventId: string) =>
  (await t.db.prisma.notification.findUniqueOrThrow({ where: { eventId } })).payload !== null;
const purgedCount = async (kind: string) =>
  (await metrics.purged.get()).values.find((v) => v.labels.kind === kind)?.value ?? 0;
const deletedCount = async (kind: string) =>
  (await metrics.auditDeleted.get()).values.find((v) => v.labels.kind === kind)?.value ?? 0;
const remainingBodies = () => t.db.prisma.quarantinedMessage.count({ where: { body: { not: null } } });

describe("one purge", () => {
  it("clears settled payloads and quarantined bodies older than the retention, batch after batch, and says how much", async () => {
    const old = await Promise.all(
      [1, 2, 3, 4, 5].map((i) =>
        notification(new Date(CUTOFF.getTime() - i * DAY), (["delivered", "rejected", "failed"] as const)[i % 3]),
      ),
    );
    for (const i of [1, 2, 3]) await quarantined(new Date(CUTOFF.getTime() - i));
    const waiting = await notification(new Date(CUTOFF.getTime() - 10 * DAY), "queued");
    const atTheEdge = await notification(CUTOFF);
    await quarantined(CUTOFF);

    const w = worker({ batchSize: 2 });
    expect(await w.purgeAll()).toMatchObject({
      payloads: 5,
      quarantineBodies: 3,
      skipped: false,
    });

    for (const id of old) expect(await kept(id)).toBe(false);
    expect(await kept(waiting)).toBe(true); // the dispatcher still needs it
    expect(await kept(atTheEdge)).toBe(true); // exactly RETENTION_DAYS old: not yet
    expect(await remainingBodies()).toBe(1);
    expect(await purgedCount("notification")).toBe(5);
    expect(await purgedCount("quarantine")).toBe(3);
    const said = logs.filter((l) => l.message === SAID);
    expect(said).toHaveLength(1);
    expect(said[0]).toMatchObject({
      payloads: 5,
      quarantineBodies: 3,
      notifications: 0,
      skipped: false,
      clearBefore: CUTOFF.toISOString(),
      deleteBefore: AUDIT_CUTOFF.toISOString(),
    });
  });

  it("keeps going while a batch comes back full of either kind", async () => {
    // Notifications run out after the first batch, quarantined bodies after the third.
    await notification(new Date(CUTOFF.getTime() - DAY));
    for (const i of [1, 2, 3, 4, 5]) await quarantined(new Date(CUTOFF.getTime() - i));
    expect(await worker({ batchSize: 2 }).purgeAll()).toMatchObject({ payloads: 1, quarantineBodies: 5 });
    expect(await remainingBodies()).toBe(0);
  });

  it("does one batch only once the worker is stopped", async () => {
    for (const i of [1, 2, 3]) await notification(new Date(CUTOFF.getTime() - i * DAY));
    const w = worker({ batchSize: 1 });
    w.start();
    await w.stop();
    expect(await w.purgeAll()).toMatchObject({ payloads: 1, skipped: false });
  });

  it("deletes audit rows past the audit retention and counts them by kind", async () => {
    const old = await notification(new Date(AUDIT_CUTOFF.getTime() - 1));
    await quarantined(new Date(AUDIT_CUTOFF.getTime() - 1));
    expect(await worker().purgeAll()).toMatchObject({ notifications: 1, quarantined: 1, payloads: 0 });
    expect(await t.db.prisma.notification.findUnique({ where: { eventId: old } })).toBeNull();
    expect(await deletedCount("notification")).toBe(1);
    expect(await deletedCount("quarantine")).toBe(1);
  });

  it("says nothing and counts nothing when nothing is old", async () => {
    const recent = await notification(new Date(NOW.getTime() - DAY));
    const w = worker();
    w.start();
    expect(await w.purgeAll()).toMatchObject({ payloads: 0, quarantineBodies: 0, notifications: 0, skipped: false });
    expect(await kept(recent)).toBe(true);
    expect(logs.filter((l) => l.message === SAID)).toHaveLength(0);
    expect(await purgedCount("notification")).toBe(0);
  });
});

describe("the timer loop", () => {
  // Only the worker's timers are faked: the database's I/O runs for real. `until` polls on
  // setImmediate, so the fake clock stands still while a purge's I/O completes (vi.waitFor would
  // advance it on every check and let the next turn come early).
  const fakeTimers = () => vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
  async function until(check: () => Promise<unknown> | unknown): Promise<void> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      try {
        await check();
        return;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
  }

  it("first purges 5–15 s after start, then every intervalMs jittered into [0.75, 1.25] of it", async () => {
    for (const [random, first, next] of [
      [0, 5_000, 45_000],
      [1, 15_000, 75_000],
    ] as const) {
      vi.spyOn(Math, "random").mockReturnValue(random);
      fakeTimers();
      // The real ledger, watched: a turn has begun when purge() was called (its I/O takes real time).
      const retention = new RetentionStore({ prisma: t.db.prisma });
      const turns = vi.spyOn(retention, "purge");
      const w = worker({ retention, intervalMs: 60_000 });
      await notification(new Date(CUTOFF.getTime() - DAY));
      w.start();
      await vi.advanceTimersByTimeAsync(first - 1);
      expect(turns).not.toHaveBeenCalled();
      await vi.advanceTimersByTimeAsync(1);
      expect(turns).toHaveBeenCalledTimes(1);
      // The next turn is scheduled once this one has finished (its log line, then a few microtasks).
      await until(() => expect(logs.filter((l) => l.message === SAID)).toHaveLength(1));
      await new Promise((resolve) => setImmediate(resolve));

      await notification(new Date(CUTOFF.getTime() - DAY));
      await vi.advanceTimersByTimeAsync(next - 1);
      expect(turns).toHaveBeenCalledTimes(1);
      await vi.advanceTimersByTimeAsync(1);
      expect(turns).toHaveBeenCalledTimes(2);
      await until(async () => expect(await purgedCount("notification")).toBe(2));
      await w.stop();
      vi.useRealTimers();
      metrics = createMetrics();
      freshLogs();
    }
  });

  it("logs a failed purge without its data and tries again on the next turn", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0);
    fakeTimers();
    const failing = { purge: vi.fn(async () => Promise.reject(new Error("connection refused"))) };
    const w = worker({ retention: failing, intervalMs: 1_000 });
    w.start();
    await vi.advanceTimersByTimeAsync(5_000);
    await until(() =>
      expect(logs.filter((l) => l.message === "retention purge failed; trying again later")).toHaveLength(1),
    );
    expect(logs[0]).toMatchObject({ severity: "WARNING", err: { message: "connection refused" } });
    await vi.advanceTimersByTimeAsync(750);
    await until(() => expect(failing.purge).toHaveBeenCalledTimes(2));
    expect(failing.purge).toHaveBeenLastCalledWith({ clearBefore: CUTOFF, deleteBefore: AUDIT_CUTOFF }, 1000, NOW);
  });

  it("stops: no purge after stop(), which waits for the one running", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0);
    fakeTimers();
    let finish!: () => void;
    let calls = 0;
    const slow = {
      purge: async () => {
        calls += 1;
        await new Promise<void>((resolve) => (finish = resolve));
        return { ...EMPTY_BATCH, more: false };
      },
    };
    const w = worker({ retention: slow, intervalMs: 1_000 });
    w.start();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(calls).toBe(1);
    let stopped = false;
    const stopping = w.stop().then(() => (stopped = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(stopped).toBe(false); // the running purge is awaited
    finish();
    await stopping;
    await vi.advanceTimersByTimeAsync(60_000);
    expect(calls).toBe(1);
  });

  it("never starts a turn when stopped before its first one", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0);
    fakeTimers();
    const old = await notification(new Date(CUTOFF.getTime() - DAY));
    const w = worker();
    w.start();
    await w.stop();
    await vi.advanceTimersByTimeAsync(120_000);
    await w.stop(); // waits for a purge, had one been started
    expect(await kept(old)).toBe(true);
  });
});
