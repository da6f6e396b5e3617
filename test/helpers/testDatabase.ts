import { randomBytes } from "node:crypto";
import pg from "pg";
import { openDatabase, type Database } from "../../src/db/database.ts";
import { migrate } from "../../src/db/migrate.ts";
import { pgliteFromTemplate } from "./pgliteTemplate.ts";

/**
 * A fresh, migrated database for one test file. With DATABASE_URL set (CI's PostgreSQL run) it is
 * a new database on that server, dropped afterwards; otherwise an in-memory PGlite.
 */
export interface TestDatabase {
  db: Database;
  /** The URL of the created PostgreSQL database, for child processes; undefined on PGlite. */
  url: string | undefined;
  drop(): Promise<void>;
}

export const usingPostgres = (): boolean => Boolean(process.env.DATABASE_URL);

/** Creates an empty PostgreSQL database on DATABASE_URL's server and returns its URL. */
export async function createPostgresDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const admin = new URL(process.env.DATABASE_URL!);
  const name = `relay_test_${randomBytes(6).toString("hex")}`;
  const run = async (sql: string) => {
    const client = new pg.Client({ connectionString: admin.toString() });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await run(`CREATE DATABASE ${name}`);
  const url = new URL(admin.toString());
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => run(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

export async function createTestDatabase(): Promise<TestDatabase> {
  if (!usingPostgres()) {
    // Mutation testing: a copy of a migrated embedded database instead of a new in-memory one.
    const pglite = pgliteFromTemplate();
    const db = await openDatabase({ dataDir: pglite?.dataDir ?? "memory://" });
    await migrate(db);
    return {
      db,
      url: undefined,
      async drop() {
        await db.close();
        pglite?.remove();
      },
    };
  }
  const created = await createPostgresDatabase();
  const db = await openDatabase({ databaseUrl: created.url, dataDir: "unused" });
  await migrate(db);
  return {
    db,
    url: created.url,
    async drop() {
      await db.close();
      await created.drop();
    },
  };
}
