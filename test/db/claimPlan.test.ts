import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Prisma } from "../../src/generated/prisma/client.ts";
import { claimDueSql, NotificationStore } from "../../src/db/notificationStore.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/testDatabase.ts";

// The dispatcher claims its batch from a ledger that holds mostly delivered rows and, after an
// outage or a burst, tens of thousands of queued ones. Reading all of them and sorting them for
// each claim of 128 made the claim cost 70 ms at 25,000 queued: the backlog drained at a third of
// the rate Svix allowed. The claim must walk the backlog index in order and stop at its limit.
let t: TestDatabase;
let store: NotificationStore;
beforeAll(async () => {
  t = await createTestDatabase();
  store = new NotificationStore({ prisma: t.db.prisma, sql: t.db.sql });
  // 4,000 delivered rows (oldest), then 4,000 queued and due, then 200 queued and not due yet.
  await t.db.prisma.$executeRawUnsafe(`
    INSERT INTO notifications (event_id, project, type, status, payload, transport, created_at, updated_at, next_attempt_at)
    SELECT 'evt_' || lpad(i::text, 6, '0'), 'acme', 'user.created',
           (CASE WHEN i <= 4000 THEN 'delivered' ELSE 'queued' END)::"NotificationStatus",
           '{}', 'body', now() - interval '1 hour' + i * interval '10 ms', now(),
           CASE WHEN i > 8000 THEN now() + interval '1 hour' ELSE now() - interval '1 minute' END
    FROM generate_series(1, 8200) AS i`);
  await t.db.prisma.$executeRawUnsafe("ANALYZE notifications");
});
afterAll(() => t.drop());

interface PlanNode {
  "Node Type": string;
  "Index Name"?: string;
  Plans?: PlanNode[];
}
const nodes = (node: PlanNode): PlanNode[] => [node, ...(node.Plans ?? []).flatMap(nodes)];

describe(`the dispatcher's claim on ${process.env.DATABASE_URL ? "PostgreSQL" : "PGlite"}`, () => {
  it("walks the backlog index in order and sorts nothing: its cost does not grow with the backlog", async () => {
    const sql = claimDueSql(new Date(), 128, { token: randomUUID(), expiresAt: new Date(Date.now() + 30_000) });
    // EXPLAIN only: the plan the claim would run, without claiming anything.
    const [row] = await t.db.prisma.$queryRaw<Array<{ "QUERY PLAN": Array<{ Plan: PlanNode }> }>>(
      Prisma.sql`EXPLAIN (FORMAT JSON) ${sql}`,
    );
    const explained = row?.["QUERY PLAN"][0];
    if (!explained) throw new Error("EXPLAIN returned no plan");
    const plan = nodes(explained.Plan);
    expect(plan.map((n) => n["Index Name"]).filter(Boolean)).toContain("notifications_backlog_created_at_idx");
    expect(plan.map((n) => n["Node Type"])).not.toContain("Sort");
  });

  it("still claims the oldest due rows first, and none that is not due", async () => {
    const rows = await store.claimDue(new Date(), 128, {
      token: randomUUID(),
      expiresAt: new Date(Date.now() + 30_000),
    });
    expect(rows.map((r) => r.eventId)).toEqual(
      Array.from({ length: 128 }, (_, i) => `evt_${String(4001 + i).padStart(6, "0")}`),
    );
    const rest = await store.claimDue(new Date(), 10_000, {
      token: randomUUID(),
      expiresAt: new Date(Date.now() + 30_000),
    });
    expect(rest).toHaveLength(4000 - 128);
    expect(rest.every((r) => r.eventId <= "evt_008000")).toBe(true);
  });
});
