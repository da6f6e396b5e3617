import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventDigest } from "../../src/core/eventDigest.ts";
import type { NewNotification } from "../../src/core/ports/ledger.ts";
import { NotificationStore, QUEUE_DEPTH_SQL } from "../../src/db/notificationStore.ts";
import { makeEvent } from "../helpers/events.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/testDatabase.ts";

// The queue's metrics read the ledger on every scrape window, on every instance: one statement,
// on the status indexes. A database of its own: the counts are of the whole table.
let t: TestDatabase;
let store: NotificationStore;
beforeAll(async () => {
  t = await createTestDatabase();
  store = new NotificationStore({ prisma: t.db.prisma, sql: t.db.sql });
});
afterAll(() => t.drop());

const NOW = new Date("2026-12-01T12:00:00.000Z");
const at = (ms: number) => new Date(NOW.getTime() + ms);
const sql = (text: string, params: unknown[] = []) => t.db.sql.query<Record<string, unknown>>(text, params);

function entry(status: "queued" | "received", claimExpiresAt?: Date): NewNotification {
  const event = makeEvent();
  return {
    event,
    transport: { kind: "body" },
    payloadDigest: eventDigest(event),
    status,
    ...(status === "received" ? { claimToken: randomUUID(), claimExpiresAt } : { nextAttemptAt: at(60_000) }),
  };
}

/** Inserts and sets the arrival time (the database stamps its own now()). */
async function arrived(e: NewNotification, createdAt: Date): Promise<string> {
  expect(await store.insert(e)).toBeNull();
  await sql("UPDATE notifications SET created_at = $2 WHERE event_id = $1", [e.event.id, createdAt]);
  return e.event.id;
}

interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Index Name"?: string;
  Plans?: PlanNode[];
}

/** Every scan of a table in an EXPLAIN (FORMAT JSON) plan, as "Index Only Scan on t using i". */
function scansOf(explained: Array<{ Plan: PlanNode }>): string[] {
  const out: string[] = [];
  const visit = (node: PlanNode) => {
    if (node["Relation Name"]) {
      const index = node["Index Name"] ? ` using ${node["Index Name"]}` : "";
      out.push(`${node["Node Type"]} on ${node["Relation Name"]}${index}`);
    }
    for (const child of node.Plans ?? []) visit(child);
  };
  for (const { Plan } of explained) visit(Plan);
  return out;
}

describe(`NotificationStore.queueDepth on ${process.env.DATABASE_URL ? "PostgreSQL" : "PGlite"}`, () => {
  it("is empty on an empty ledger", async () => {
    expect(await store.queueDepth(NOW)).toEqual({ queued: 0, stuck: 0, oldestQueuedAt: null, oldestStuckAt: null });
  });

  it("counts queued notifications and received ones whose claim has expired (or is missing), with the oldest arrival of each", async () => {
    await arrived(entry("queued"), at(-300_000));
    await arrived(entry("queued"), at(-600_000));
    // A live claim is a delivery in flight, not a backlog, however old the notification.
    await arrived(entry("received", at(1)), at(-3_600_000));
    // Expired at this very instant: the dispatcher may take it over (claimDue's `<=`).
    await arrived(entry("received", NOW), at(-120_000));
    await arrived(entry("received", at(-5_000)), at(-60_000));
    const noClaim = await arrived(entry("received", at(-1)), at(-30_000));
    await sql("UPDATE notifications SET claim_token = NULL, claim_expires_at = NULL WHERE event_id = $1", [noClaim]);
    const settled = await arrived(entry("received", at(1)), at(-7_200_000));
    await sql("UPDATE notifications SET status = 'delivered' WHERE event_id = $1", [settled]);

    expect(await store.queueDepth(NOW)).toEqual({
      queued: 2,
      stuck: 3,
      oldestQueuedAt: at(-600_000),
      oldestStuckAt: at(-120_000),
    });
    // A moment later the live claim has expired too.
    expect((await store.queueDepth(at(2))).stuck).toBe(4);
    expect((await store.queueDepth(at(2))).oldestStuckAt).toEqual(at(-3_600_000));
  });

  it("reads only the status indexes, never the whole table", async () => {
    // A ledger of a realistic shape: almost everything settled, a little waiting.
    await sql(
      `INSERT INTO notifications (event_id, project, type, status, transport, created_at, updated_at)
       SELECT 'evt_seed_' || g, 'acme', 'user.created', (CASE WHEN g % 500 = 0 THEN 'queued' ELSE 'delivered' END)::"NotificationStatus", 'body', $1::timestamptz - g * interval '1 second', $1::timestamptz
       FROM generate_series(1, 20000) AS g`,
      [NOW],
    );
    await sql("ANALYZE notifications");
    const [row] = await sql(`EXPLAIN (FORMAT JSON) ${QUEUE_DEPTH_SQL}`, [NOW]);
    const plan = row!["QUERY PLAN"];
    const scans = scansOf(typeof plan === "string" ? JSON.parse(plan) : plan);
    expect(scans.length).toBeGreaterThan(0);
    for (const scan of scans) {
      expect(scan).toMatch(
        /Index (Only )?Scan on notifications using notifications_status_(created_at|next_attempt_at)_idx/,
      );
    }
    expect((await store.queueDepth(NOW)).queued).toBe(42);
  });

  it("turns a failed read into a retryable database_unavailable error", async () => {
    await sql("ALTER TABLE notifications RENAME TO notifications_elsewhere");
    try {
      await expect(store.queueDepth(NOW)).rejects.toMatchObject({ code: "database_unavailable", retryable: true });
    } finally {
      await sql("ALTER TABLE notifications_elsewhere RENAME TO notifications");
    }
  });
});
