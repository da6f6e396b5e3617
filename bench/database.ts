// The relay's ledger for one benchmark run: a database of its own on a PostgreSQL server (created
// here, dropped at the end), or the embedded PGlite in a temporary folder. Never an existing
// database: the relay creates its tables and the benchmark fills them with throwaway events.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";

export const DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres";

export interface BenchDatabase {
  kind: "postgres" | "pglite";
  /** Environment for the relay: DATABASE_URL or DATA_DIR. */
  env: Record<string, string>;
  /** Where it lives, for the report (no password). */
  description: string;
  drop(): Promise<void>;
}

export async function createBenchDatabase(kind: "postgres" | "pglite", adminUrl: string): Promise<BenchDatabase> {
  if (kind === "pglite") {
    const dataDir = mkdtempSync(join(tmpdir(), "relay-bench-"));
    return {
      kind,
      env: { DATA_DIR: dataDir },
      description: `PGlite in ${dataDir}`,
      drop: async () => rmSync(dataDir, { recursive: true, force: true }),
    };
  }
  const name = `relay_bench_${randomBytes(5).toString("hex")}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const server = `${url.hostname}:${url.port || 5432}`;
  let dropped = false;
  return {
    kind,
    env: { DATABASE_URL: url.toString() },
    description: `PostgreSQL ${server}/${name}`,
    drop: async () => {
      if (dropped) return;
      dropped = true;
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      try {
        // FORCE: a relay killed mid-run may leave sessions behind, and the database must still go.
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

/** The server's version and settings that matter for a write-heavy benchmark, for the report. */
export async function describeServer(adminUrl: string): Promise<Record<string, string>> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ name: string; setting: string }>(
      "SELECT name, setting FROM pg_settings WHERE name IN ('server_version', 'synchronous_commit', 'fsync', 'shared_buffers', 'max_connections')",
    );
    return Object.fromEntries(rows.map((r) => [r.name, r.setting]));
  } finally {
    await client.end();
  }
}

/**
 * ANALYZE on the bench database, as autovacuum does within a minute of a deployment's first
 * events. Without it the relay's prepared statements may keep the generic plans PostgreSQL made
 * while the ledger was empty (a sequential scan of notifications in the completion batch) for the
 * whole run: the first ANALYZE invalidates them. A benchmark of a few minutes on a fresh database
 * would otherwise measure that first minute, at random, on whichever relay prepared first.
 */
export async function analyzeBenchDatabase(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  client.on("error", () => undefined);
  await client.connect();
  try {
    const started = performance.now();
    await client.query("ANALYZE");
    return performance.now() - started;
  } finally {
    await client.end().catch(() => undefined);
  }
}
