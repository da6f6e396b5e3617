import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { PrismaPg } from "@prisma/adapter-pg";
import type { SqlMigrationAwareDriverAdapterFactory } from "@prisma/driver-adapter-utils";
import pg from "pg";
import { PrismaPGlite } from "pglite-prisma-adapter";
import { PrismaClient } from "../generated/prisma/client.ts";

/** Plain SQL on the same connections as Prisma, for the few hot statements Prisma's per-call cost would dominate. */
export interface SqlRunner {
  /**
   * `name`: a prepared statement's name — PostgreSQL parses and plans it once per connection
   * instead of on every call (PGlite, in-process, has no use for it).
   */
  query<Row = Record<string, unknown>>(text: string, params: unknown[], name?: string): Promise<Row[]>;
}

/** An open ledger database: the Prisma client plus what migrations and health checks need. */
export interface Database {
  readonly kind: "postgres" | "pglite";
  readonly prisma: PrismaClient;
  /** The pool (PostgreSQL) or the single connection (PGlite) Prisma uses. */
  readonly sql: SqlRunner;
  /**
   * Runs fn with a driver adapter for Prisma's schema engine, while holding a database-wide lock
   * so that concurrent starts migrate one at a time. On PostgreSQL the adapter has a pool of its
   * own, ended afterwards: the engine takes session-level advisory locks and a pooled connection
   * would otherwise keep them for the life of the process.
   */
  withMigrationAdapter<T>(fn: (adapterFactory: SqlMigrationAwareDriverAdapterFactory) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** PostgreSQL URL; when absent an embedded, file-backed PGlite database is used. */
  databaseUrl?: string;
  /** Folder for the embedded database; "memory://" keeps it in memory (tests). */
  dataDir: string;
  /** Connections in the pool (PostgreSQL only). */
  poolMax?: number;
  /** How long a query may wait for a free connection before failing (PostgreSQL only). */
  connectionTimeoutMs?: number;
}

// Any constant works as long as every instance uses the same one; it differs from the key
// Prisma's own engine takes so that the two never wait on each other.
const MIGRATION_LOCK_KEY = 727_073_690;
/** How long an instance waits for another one's migration. */
const MIGRATION_LOCK_WAIT_MS = 120_000;
const MIGRATION_LOCK_POLL_MS = 200;

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  return options.databaseUrl ? openPostgres(options.databaseUrl, options) : openPglite(options.dataDir);
}

function openPostgres(url: string, options: DatabaseOptions): Database {
  // One pool for Prisma and our own statements: the connection budget stays DATABASE_POOL_MAX.
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolMax ?? 10,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 5_000,
  });
  // An idle client's error (the server restarted) must not crash the process; the next query reports it.
  pool.on("error", () => undefined);
  const adapterFactory = new PrismaPg(pool);
  const prisma = new PrismaClient({ adapter: adapterFactory });
  return {
    kind: "postgres",
    prisma,
    sql: {
      query: async <Row>(text: string, params: unknown[], name?: string) =>
        (await pool.query({ text, values: params, name })).rows as Row[],
    },
    async withMigrationAdapter(fn) {
      // A session-level advisory lock on a connection of its own: it is released when the
      // connection ends, so a crashed migrator cannot leave it held.
      const client = new pg.Client({ connectionString: url });
      // A dropped connection fails the queries below; without a listener it would crash the process.
      client.on("error", () => undefined);
      await client.connect();
      try {
        // Waits for another instance's migration, but not forever — by asking again and again
        // rather than blocking in pg_advisory_lock: a statement blocked there holds a snapshot, and
        // CREATE INDEX CONCURRENTLY in the other instance's migration waits for every such
        // snapshot to end, while that statement waits for the migration: neither would move.
        const deadline = performance.now() + MIGRATION_LOCK_WAIT_MS;
        for (;;) {
          const [row] = (await client.query("SELECT pg_try_advisory_lock($1) AS locked", [MIGRATION_LOCK_KEY]))
            .rows as Array<{ locked: boolean }>;
          if (row?.locked) break;
          if (performance.now() > deadline) {
            throw new Error(
              `another instance has been migrating the database for over ${MIGRATION_LOCK_WAIT_MS / 1000} s`,
            );
          }
          await new Promise((resolve) => setTimeout(resolve, MIGRATION_LOCK_POLL_MS));
        }
        const pool = new pg.Pool({ connectionString: url, max: 2 });
        try {
          return await fn(new PrismaPg(pool));
        } finally {
          await pool.end().catch(() => undefined);
        }
      } finally {
        await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK_KEY]).catch(() => undefined);
        await client.end().catch(() => undefined);
      }
    },
    async close() {
      await prisma.$disconnect();
      await pool.end().catch(() => undefined);
    },
  };
}

/**
 * PGlite is PostgreSQL inside this process: a second process opening the same folder would
 * corrupt it. A lock file holding our pid keeps a second relay out (a dead owner's lock is taken over).
 */
function lockDataDir(dir: string): () => void {
  const lockPath = join(dir, "relay.lock");
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      writeFileSync(lockPath, String(process.pid), { flag: "wx" });
      return () => rmSync(lockPath, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const owner = Number(readFileSync(lockPath, "utf8"));
      if (owner && owner !== process.pid && isAlive(owner)) {
        throw new Error(
          `The embedded database in ${dir} is in use by another relay (pid ${owner}). It serves one process; set DATABASE_URL to run several instances.`,
        );
      }
      rmSync(lockPath, { force: true });
    }
  }
  throw new Error(`Could not lock ${dir}`);
}

/** Whether a process with this id runs (EPERM: it does, as another user). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * PGlite's PostgreSQL settings: its defaults, with shared_buffers at 16 MB instead of 128 MB. The
 * buffer pool lives in PGlite's WebAssembly memory, which is touched at start and never given
 * back: with 128 MB the zero-configuration relay's RSS at rest was 496 MB, with 16 MB 364 MB
 * (medians of 3 alternating rounds, `node bench/restingMemory.ts --baseline …`), while the
 * embedded ledger's working set is a few MB. Durability is unchanged (fsync and
 * synchronous_commit as PGlite sets them); wal_buffers follows shared_buffers (512 kB).
 */
const PGLITE_START_PARAMS = [...PGlite.defaultStartParams, "-c", "shared_buffers=16MB"];

async function openPglite(dataDir: string): Promise<Database> {
  let location = dataDir;
  let unlock = () => {};
  if (!dataDir.startsWith("memory://")) {
    location = join(dataDir, "pglite");
    mkdirSync(location, { recursive: true });
    unlock = lockDataDir(dataDir);
  }
  let pglite: PGlite;
  try {
    pglite = await PGlite.create(location, { startParams: PGLITE_START_PARAMS });
  } catch (error) {
    unlock();
    throw error;
  }
  const adapterFactory = new PrismaPGlite(pglite);
  const prisma = new PrismaClient({ adapter: adapterFactory });
  return {
    kind: "pglite",
    prisma,
    sql: { query: async <Row>(text: string, params: unknown[]) => (await pglite.query<Row>(text, params)).rows },
    // PGlite lives in this process, with one connection: nothing else can migrate it.
    withMigrationAdapter: (fn) => fn(adapterFactory),
    async close() {
      await prisma.$disconnect();
      await pglite.close();
      unlock();
    },
  };
}
