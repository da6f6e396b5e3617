// The retention worker on a real ledger (PGlite, or PostgreSQL with DATABASE_URL): what one purge
// clears, in batches, and when its timer loop runs.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { createTestDatabase, usingPostgres, type TestDatabase } from "../helpers/testDatabase.ts";
import { makeEvent } from "../helpers/events.ts";
import { NotificationStore } from "../../src/db/notificationStore.ts";
import { RetentionStore } from "../../src/db/retentionStore.ts";
import { createMetrics, type Metrics } from "../../src/observability/metrics.ts";
import { eventDigest } from "../../src/core/eventDigest.ts";
import { PurgeWorker, type PurgeWorkerOptions } from "../../src/core/purgeWorker.ts";
import { captureLogs, type CapturedLogs } from "../helpers/capturedLogs.ts";

const DAY = 86_400_000;
const NOW = new Date("2026-11-30T12:00:00.000Z");
const RETENTION_DAYS = 30;
// The retention's edge: rows that arrived before it are cleared.
const CUTOFF = new Date(NOW.getTime() - RETENTION_DAYS * DAY);

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
    retentionDays: RETENTION_DAYS,
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
  await t.db.prisma.notification.update({ where: { eventId: event.id }, data: { status, createdAt } });
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
    w.start(); // a running worker purges until nothing old is left
    expect(await w.purgeAll()).toEqual({ notifications: 5, quarantined: 3, skipped: false });

    for (const id of old) expect(await kept(id)).toBe(false);
    expect(await kept(waiting)).toBe(true); // the dispatcher still needs it
    expect(await kept(atTheEdge)).toBe(true); // exactly RETENTION_DAYS old: not yet
    expect(await remainingBodies()).toBe(1);
    expect(await purgedCount("notification")).toBe(5);
    expect(await purgedCount("quarantine")).toBe(3);
    const said = logs.filter((l) => l.message === "personal data purged");
    expect(said).toHaveLength(1);
    expect(said[0]).toMatchObject({ notifications: 5, quarantined: 3, skipped: false, before: CUTOFF.toISOString() });
  });

  it("clears one day past the retention and keeps one day short of it", async () => {
    const past = await notification(new Date(CUTOFF.getTime() - 1));
    const short = await notification(new Date(CUTOFF.getTime() + DAY));
    expect(await worker({ retentionDays: RETENTION_DAYS }).purgeAll()).toMatchObject({ notifications: 1 });
    expect(await kept(past)).toBe(false);
    expect(await kept(short)).toBe(true);
  });

  it("keeps going while a batch comes back full of either kind", async () => {
    // Notifications run out after the first batch, quarantined bodies after the third.
    await notification(new Date(CUTOFF.getTime() - DAY));
    for (const i of [1, 2, 3, 4, 5]) await quarantined(new Date(CUTOFF.getTime() - i));
    const w = worker({ batchSize: 2 });
    w.start();
    expect(await w.purgeAll()).toEqual({ notifications: 1, quarantined: 5, skipped: false });
    expect(await remainingBodies()).toBe(0);
  });

  it("does one batch only once the worker is stopped (or was never started)", async () => {
    for (const i of [1, 2, 3]) await notification(new Date(CUTOFF.getTime() - i * DAY));
    expect(await worker({ batchSize: 1 }).purgeAll()).toEqual({ notifications: 1, quarantined: 0, skipped: false });
  });

  it("says how much when as many payloads as bodies were cleared", async () => {
    await notification(new Date(CUTOFF.getTime() - DAY));
    await quarantined(new Date(CUTOFF.getTime() - DAY));
    expect(await worker().purgeAll()).toEqual({ notifications: 1, quarantined: 1, skipped: false });
    expect(logs.filter((l) => l.message === "personal data purged")).toEqual([
      expect.objectContaining({ notifications: 1, quarantined: 1 }),
    ]);
  });

  it("says nothing and counts nothing when nothing is old", async () => {
    const recent = await notification(new Date(NOW.getTime() - DAY));
    const w = worker();
    w.start();
    expect(await w.purgeAll()).toEqual({ notifications: 0, quarantined: 0, skipped: false });
    expect(await kept(recent)).toBe(true);
    expect(logs.filter((l) => l.message === "personal data purged")).toHaveLength(0);
    expect(await purgedCount("notification")).toBe(0);
  });

  it.skipIf(!usingPostgres())("skips its turn while another instance is purging", async () => {
    const old = await notification(new Date(CUTOFF.getTime() - DAY));
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const lockTaken = new Promise<void>((resolve) => (locked = resolve));
    const other = t.db.prisma.$transaction(async (tx) => {
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(727073691)`;
      locked();
      await held;
    });
    await Promise.race([lockTaken, other]);
    try {
      expect(await worker().purgeAll()).toEqual({ notifications: 0, quarantined: 0, skipped: true });
      expect(await kept(old)).toBe(true);
    } finally {
      release();
      await other;
    }
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
      await until(() => expect(logs.filter((l) => l.message === "personal data purged")).toHaveLength(1));
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
      expect(logs.filter((l) => l.message === "payload purge failed; trying again later")).toHaveLength(1),
    );
    expect(logs[0]).toMatchObject({ severity: "WARNING", err: { message: "connection refused" } });
    await vi.advanceTimersByTimeAsync(750);
    await until(() => expect(failing.purge).toHaveBeenCalledTimes(2));
    expect(failing.purge).toHaveBeenLastCalledWith(CUTOFF, 1000, NOW);
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
        return { notifications: 0, quarantined: 0 };
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
