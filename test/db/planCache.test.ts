import { afterAll, describe, expect, it } from "vitest";
import { openDatabase, type Database } from "../../src/db/database.ts";
import { migrate } from "../../src/db/migrate.ts";
import { NotificationStore } from "../../src/db/notificationStore.ts";
import { createPostgresDatabase, usingPostgres } from "../helpers/testDatabase.ts";

// The hot path's statements are prepared (named). PostgreSQL switches a prepared statement to a
// generic plan after five executions; made while the ledger is empty, that plan reads the table
// sequentially and keeps doing so as it grows, until an ANALYZE invalidates it. Measured on a
// fresh bench database: the completion batch at 23-26 ms a flush instead of 4-5 ms, and the relay
// answering at a third of its rate. The relay's connections plan every execution instead.
const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const cleanup of cleanups) await cleanup();
});

interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  Plans?: PlanNode[];
}
const nodes = (node: PlanNode): PlanNode[] => [node, ...(node.Plans ?? []).flatMap(nodes)];

describe.runIf(usingPostgres())("the hot path's prepared statements on PostgreSQL", () => {
  it("complete through the primary key after running on an empty ledger that then grew, not a sequential scan", async () => {
    const created = await createPostgresDatabase();
    cleanups.push(created.drop);
    // One connection: the statement prepared by the completions is the one EXPLAIN EXECUTE reads.
    const db: Database = await openDatabase({ databaseUrl: created.url, dataDir: "unused", poolMax: 1 });
    cleanups.unshift(() => db.close());
    await migrate(db);
    const store = new NotificationStore({ prisma: db.prisma, sql: db.sql });
    const delivered = { status: "delivered" as const, countsAsFailure: false, attempts: [] };
    // Seven completions on the empty ledger (none owns a row): past the five after which the
    // generic plan is considered.
    for (let i = 0; i < 7; i += 1) await store.complete(`evt_none_${i}`, "nobody", delivered);
    await db.sql.query(
      `INSERT INTO notifications (event_id, project, type, status, payload, transport, created_at, updated_at)
       SELECT 'evt_' || i, 'acme', 'user.created', 'delivered', '{}', 'body', now(), now() FROM generate_series(1, 20000) AS i`,
      [],
    );
    const text = `EXPLAIN (FORMAT JSON) EXECUTE relay_complete_notifications_v2(
      ARRAY['evt_7']::text[], ARRAY['t']::text[], ARRAY['delivered']::text[], ARRAY[1]::int[], ARRAY[0]::int[],
      ARRAY[NULL]::text[], ARRAY[NULL]::text[], ARRAY[NULL]::text[], ARRAY[NULL]::text[], ARRAY[NULL]::timestamptz[],
      ARRAY[NULL]::timestamptz[], ARRAY[]::text[], ARRAY[]::text[], ARRAY[]::text[], ARRAY[]::timestamptz[],
      ARRAY[]::int[], ARRAY[]::text[], ARRAY[]::int[], ARRAY[]::text[], ARRAY[]::text[], ARRAY[]::text[])`;
    const [row] = await db.sql.query<{ "QUERY PLAN": Array<{ Plan: PlanNode }> }>(text, []);
    const explained = row?.["QUERY PLAN"][0];
    if (!explained) throw new Error("EXPLAIN returned no plan");
    const onNotifications = nodes(explained.Plan).filter(
      (n) => n["Relation Name"] === "notifications" && n["Node Type"].endsWith("Scan"),
    );
    expect(onNotifications.map((n) => n["Node Type"])).toEqual(["Index Scan"]);
  });
});
