// What PostgreSQL did for a phase: transactions and rows of the relay's database
// (pg_stat_database), and WAL written by the whole server (pg_current_wal_lsn, pg_stat_wal).
// pg_stat_statements would count statements, but it needs shared_preload_libraries (a restart
// of a server the benchmark does not own): transactions and rows stand in for it. WAL is
// server-wide: the forwarder's phases, which write nothing, show what the rest of the machine
// wrote meanwhile.
import pg from "pg";

export interface PgCounters {
  walBytes: number;
  walRecords: number;
  walFpi: number;
  xactCommit: number;
  xactRollback: number;
  tupInserted: number;
  tupUpdated: number;
  tupDeleted: number;
  tupFetched: number;
  tupReturned: number;
}

const QUERY = `
  SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::float8 AS wal_bytes,
         w.wal_records::float8, w.wal_fpi::float8,
         d.xact_commit::float8, d.xact_rollback::float8, d.tup_inserted::float8, d.tup_updated::float8,
         d.tup_deleted::float8, d.tup_fetched::float8, d.tup_returned::float8
    FROM pg_stat_wal w, pg_stat_database d
   WHERE d.datname = $1`;

/** Counters of one database on a PostgreSQL server, read through a connection of its own. */
export class PgStats {
  private readonly client: pg.Client;
  private readonly database: string;

  private constructor(client: pg.Client, database: string) {
    this.client = client;
    this.database = database;
  }

  static async open(adminUrl: string, database: string): Promise<PgStats> {
    const client = new pg.Client({ connectionString: adminUrl });
    client.on("error", () => undefined);
    await client.connect();
    return new PgStats(client, database);
  }

  async read(): Promise<PgCounters | undefined> {
    try {
      // A fresh statistics snapshot each time (the cached one would repeat itself in a transaction).
      await this.client.query("SELECT pg_stat_clear_snapshot()");
      const { rows } = await this.client.query<Record<string, number>>(QUERY, [this.database]);
      const r = rows[0];
      if (!r) return undefined;
      return {
        walBytes: r.wal_bytes!,
        walRecords: r.wal_records!,
        walFpi: r.wal_fpi!,
        xactCommit: r.xact_commit!,
        xactRollback: r.xact_rollback!,
        tupInserted: r.tup_inserted!,
        tupUpdated: r.tup_updated!,
        tupDeleted: r.tup_deleted!,
        tupFetched: r.tup_fetched!,
        tupReturned: r.tup_returned!,
      };
    } catch {
      return undefined;
    }
  }

  async close(): Promise<void> {
    await this.client.end().catch(() => undefined);
  }
}

export function counterDiff(after: PgCounters | undefined, before: PgCounters | undefined): PgCounters | undefined {
  if (!after || !before) return undefined;
  const out = {} as PgCounters;
  for (const key of Object.keys(after) as Array<keyof PgCounters>) out[key] = after[key] - before[key];
  return out;
}
