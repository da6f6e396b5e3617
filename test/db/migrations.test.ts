import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openDatabase, type Database } from "../../src/db/database.ts";
import { migrate } from "../../src/db/migrate.ts";
import { loadMigrations, NO_FILTER, withSchemaEngine } from "../../src/db/schemaEngine.ts";
import { createPostgresDatabase, usingPostgres } from "../helpers/testDatabase.ts";

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** A database with no migrations applied, closed and dropped after the test. */
async function emptyDatabase(): Promise<Database> {
  let url: string | undefined;
  if (usingPostgres()) {
    const created = await createPostgresDatabase();
    cleanups.push(created.drop);
    url = created.url;
  }
  const db = await openDatabase({ databaseUrl: url, dataDir: "memory://" });
  cleanups.unshift(() => db.close());
  return db;
}

describe("migrations", () => {
  it("prisma/migrations produce exactly schema.prisma (no forgotten migration)", async () => {
    const db = await openDatabase({ dataDir: "memory://" });
    cleanups.push(() => db.close());
    const migrations = await loadMigrations();
    const diff = await db.withMigrationAdapter((factory) =>
      withSchemaEngine(factory, (engine, schema) =>
        engine.diff({
          from: { tag: "migrations", ...migrations },
          to: { tag: "schemaDatamodel", files: [{ path: "schema.prisma", content: schema }] },
          script: false,
          exitCode: true,
          filters: NO_FILTER,
        }),
      ),
    );
    expect(diff.exitCode).toBe(0);
  });

  it("apply once, record themselves as Prisma does, and are a no-op the second time", async () => {
    const db = await emptyDatabase();
    const names = (await loadMigrations()).migrationDirectories.map((m) => m.path);
    expect(await migrate(db)).toEqual(names);
    expect(await migrate(db)).toEqual([]);
    const rows = await db.prisma.$queryRaw<
      Array<{ migration_name: string; finished_at: Date | null }>
    >`SELECT migration_name, finished_at FROM _prisma_migrations`;
    expect(rows.map((r) => r.migration_name)).toEqual(names);
    expect(rows.every((r) => r.finished_at !== null)).toBe(true);
  });

  it("carry a ledger written before store and forward over: waiting rows become queued, applications keep their uid", async () => {
    const db = await emptyDatabase();
    const all = await loadMigrations();
    const first = { ...all, migrationDirectories: all.migrationDirectories.filter((m) => m.path.endsWith("_init")) };
    await db.withMigrationAdapter((factory) =>
      withSchemaEngine(factory, (engine) => engine.applyMigrations({ migrationsList: first, filters: NO_FILTER })),
    );
    await db.prisma.$executeRawUnsafe(
      `INSERT INTO svix_applications (project, uid, svix_app_id) VALUES ('acme', 'acme', 'app_1')`,
    );
    for (const [id, status] of [
      ["evt_waiting", "failed"],
      ["evt_done", "delivered"],
      ["evt_refused", "rejected"],
    ]) {
      await db.prisma.$executeRawUnsafe(
        `INSERT INTO notifications (event_id, project, type, status, payload, transport, updated_at, svix_app_id) VALUES ($1, 'acme', 'user.created', $2::"NotificationStatus", '{}', 'body', now(), 'app_1')`,
        id,
        status,
      );
    }
    expect(await migrate(db)).toEqual(all.migrationDirectories.map((m) => m.path).filter((p) => !p.endsWith("_init")));
    const rows = await db.prisma.notification.findMany({
      orderBy: { eventId: "asc" },
      select: { eventId: true, status: true, svixAppUid: true },
    });
    expect(rows).toEqual([
      { eventId: "evt_done", status: "delivered", svixAppUid: "acme" },
      { eventId: "evt_refused", status: "rejected", svixAppUid: "acme" },
      { eventId: "evt_waiting", status: "queued", svixAppUid: "acme" },
    ]);
  });

  it("clear the message and details of quarantined messages whose body retention cleared, and build retention's indexes", async () => {
    const db = await emptyDatabase();
    const all = await loadMigrations();
    const before = {
      ...all,
      migrationDirectories: all.migrationDirectories.filter((m) => m.path < "20261206055536"),
    };
    await db.withMigrationAdapter((factory) =>
      withSchemaEngine(factory, (engine) => engine.applyMigrations({ migrationsList: before, filters: NO_FILTER })),
    );
    await db.prisma.$executeRawUnsafe(
      `INSERT INTO quarantined_messages (reason, message, details, transport, body, body_purged_at, body_bytes)
       VALUES ('invalid_json', 'Duplicate key "jane@example.com"', '[{"path":"/jane@example.com","message":"duplicate key"}]', 'pull', NULL, now(), 40),
              ('invalid_json', 'Duplicate key "john@example.com"', '[{"path":"/john@example.com","message":"duplicate key"}]', 'pull', '\\x7b7d', NULL, 40)`,
    );

    expect(await migrate(db)).toEqual(all.migrationDirectories.map((m) => m.path).filter((p) => p >= "20261206055536"));
    const rows = await db.prisma.quarantinedMessage.findMany({ orderBy: { id: "asc" } });
    expect(rows.map((r) => [r.message, r.details, r.bodyBytes])).toEqual([
      ["", "[]", 40], // cleared before: its message and details go too
      ['Duplicate key "john@example.com"', '[{"path":"/john@example.com","message":"duplicate key"}]', 40], // not yet
    ]);
    const indexes = await db.prisma.$queryRaw<Array<{ name: string; valid: boolean }>>`
      SELECT c.relname AS name, i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
      WHERE c.relname IN ('notifications_payload_kept_created_at_idx', 'quarantined_messages_body_kept_received_at_idx')
      ORDER BY 1`;
    expect(indexes).toEqual([
      { name: "notifications_payload_kept_created_at_idx", valid: true },
      { name: "quarantined_messages_body_kept_received_at_idx", valid: true },
    ]);
  });

  it.runIf(usingPostgres())(
    "let instances that start together migrate one after the other, CREATE INDEX CONCURRENTLY included, without blocking each other",
    async () => {
      const created = await createPostgresDatabase();
      cleanups.push(created.drop);
      const instances = await Promise.all(
        [0, 1, 2].map(() => openDatabase({ databaseUrl: created.url, dataDir: "unused" })),
      );
      for (const db of instances) cleanups.unshift(() => db.close());
      const started = performance.now();
      // A waiting instance that blocked in pg_advisory_lock would hold a snapshot that the other's
      // CREATE INDEX CONCURRENTLY waits for: all three would hang until a timeout.
      const applied = await Promise.all(instances.map((db) => migrate(db)));
      expect(performance.now() - started).toBeLessThan(60_000);
      expect(applied.filter((list) => list.length > 0)).toHaveLength(1);
      expect(applied.flat().length).toBe((await loadMigrations()).migrationDirectories.length);
    },
  );

  it("keeps a second process out of the embedded database's folder", async () => {
    const dir = mkdtempSync(join(tmpdir(), "relay-lock-"));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const first = await openDatabase({ dataDir: dir });
    // Pretend another live process (our parent) holds the lock.
    const { writeFileSync } = await import("node:fs");
    await first.close();
    writeFileSync(join(dir, "relay.lock"), String(process.ppid));
    await expect(openDatabase({ dataDir: dir })).rejects.toThrow(/in use by another relay/);
    // A lock left by a dead process is taken over.
    writeFileSync(join(dir, "relay.lock"), "999999999");
    const again = await openDatabase({ dataDir: dir });
    await again.close();
  });
});
