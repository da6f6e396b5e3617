// `node bench/retentionMeasure.ts [--size-events N] [--rows N] [--batch N]`: what the ledger costs
// per event, and what one retention batch costs on a large ledger. PostgreSQL only: it creates a
// database of its own on DATABASE_URL's server (default postgres@127.0.0.1:5432) and drops it.
// The numbers in the README's "How big the ledger grows" come from this script.
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { migrate } from "../src/db/migrate.ts";
import { openDatabase } from "../src/db/database.ts";
import { RetentionStore } from "../src/db/retentionStore.ts";
import { createBenchDatabase, DEFAULT_ADMIN_URL } from "./database.ts";

const { values: args } = parseArgs({
  options: {
    "size-events": { type: "string", default: "20000" },
    rows: { type: "string", default: "2000000" },
    batch: { type: "string", default: "1000" },
    help: { type: "boolean", short: "h" },
  },
});
if (args.help) {
  process.stdout.write(`node bench/retentionMeasure.ts [--size-events 20000] [--rows 2000000] [--batch 1000]

1. Bytes per event in notifications + delivery_attempts (tables, TOAST and indexes), for 1 KB and
   6 KB events, with the payload kept and cleared (--size-events events each).
2. A ledger of --rows notifications over 120 days (≈ 1 attempt each, 1 % with a delivery event;
   payloads kept for the last 31 days), then: time, rows/s and WAL of retention batches (delete,
   clear), and of a clear batch without the partial index that retention relies on.
Uses DATABASE_URL's server (default ${DEFAULT_ADMIN_URL}); takes minutes per million rows.
`);
  process.exit(0);
}
const sizeEvents = Number(args["size-events"]);
const rows = Number(args.rows);
const batch = Number(args.batch);
const DAY = 86_400_000;

const bench = await createBenchDatabase("postgres", process.env.DATABASE_URL || DEFAULT_ADMIN_URL);
const db = await openDatabase({ databaseUrl: bench.env.DATABASE_URL, dataDir: "unused" });
const sql = <T = Record<string, unknown>>(text: string, params: unknown[] = []) => db.sql.query<T>(text, params);

const WORDS =
  "plan line mobile data roaming bundle monthly unlimited porting number device esim activation invoice credit".split(
    " ",
  );
const pick = () => WORDS[Math.floor(Math.random() * WORDS.length)];
const hex = (n: number) =>
  randomBytes(Math.ceil(n / 2))
    .toString("hex")
    .slice(0, n);

/** A platform event of about `bytes` bytes: a user, then subscription lines until it is large enough. */
function eventOfSize(bytes: number): { id: string; json: string } {
  const id = `evt_${hex(28)}`;
  const event = {
    object: "event",
    id,
    data: {
      object: "subscription",
      id: `sub_${hex(28)}`,
      user: {
        object: "user",
        id: `usr_${hex(28)}`,
        email: `${hex(10)}@example.com`,
        fullName: `${pick()} ${pick()}`,
        birthday: "1990-01-01",
        phoneNumber: `+1555${hex(7).replace(/[a-f]/g, "1")}`,
      },
      status: "active",
      lines: [] as unknown[],
    },
    datacontenttype: "application/json",
    project: `project-${Math.floor(Math.random() * 500)}`,
    source: "https://api.gigs.com",
    specversion: "1.0",
    time: new Date().toISOString(),
    type: "subscription.activated",
    version: "2023-01-30",
  };
  while (JSON.stringify(event).length < bytes) {
    event.data.lines.push({
      id: `lin_${hex(24)}`,
      description: `${pick()} ${pick()} ${pick()}`,
      amount: Math.floor(Math.random() * 10_000),
      currency: "USD",
      period: { start: "2026-11-01", end: "2026-11-30" },
    });
  }
  return { id, json: JSON.stringify(event) };
}

/** Rows as the relay writes a delivered push: the notification and its one Svix attempt. */
async function insertEvents(count: number, bytes: number, kept: boolean): Promise<void> {
  for (let done = 0; done < count; done += 1000) {
    const events = Array.from({ length: Math.min(1000, count - done) }, () => eventOfSize(bytes));
    await sql(
      `WITH input AS (SELECT * FROM unnest($1::text[], $2::text[]) AS t(event_id, payload))
       INSERT INTO notifications (event_id, project, type, status, attempts, svix_app_uid, svix_message_id, payload, payload_purged_at,
         payload_digest, transport, pubsub_message_id, subscription, delivery_attempt, publish_time, created_at, updated_at, delivered_at)
       SELECT event_id, 'project-42', 'subscription.activated', 'delivered', 1, 'project-42', 'msg_' || md5(event_id),
         CASE WHEN $3 THEN payload END, CASE WHEN $3 THEN NULL ELSE now() END, encode(sha256(convert_to(payload, 'UTF8')), 'hex'),
         'push_wrapped', (10000000000000 + floor(random() * 1e12))::bigint::text, 'projects/gigs-prod/subscriptions/relay-push', 1, now(), now(), now(), now()
       FROM input`,
      [events.map((e) => e.id), events.map((e) => e.json), kept],
    );
    await sql(
      `INSERT INTO delivery_attempts (event_id, trigger, operation, started_at, duration_ms, outcome, http_status, svix_message_id)
       SELECT event_id, 'ingress', 'message.create', now(), 80, 'delivered', 202, svix_message_id FROM notifications WHERE event_id = ANY($1)`,
      [events.map((e) => e.id)],
    );
  }
}

async function measureSizes(): Promise<void> {
  process.stdout.write(`\n1. Bytes per event (${sizeEvents} events each; a delivered notification with one attempt)\n`);
  process.stdout.write(
    "event   payload   notifications (heap+TOAST / indexes)   delivery_attempts (heap / indexes)   total\n",
  );
  for (const bytes of [1024, 6144]) {
    for (const kept of [true, false]) {
      await sql("TRUNCATE notifications, delivery_attempts");
      await insertEvents(sizeEvents, bytes, kept);
      await sql("VACUUM ANALYZE notifications");
      await sql("VACUUM ANALYZE delivery_attempts");
      const [s] = await sql<Record<string, string>>(
        `SELECT pg_table_size('notifications') AS nt, pg_indexes_size('notifications') AS ni,
                pg_table_size('delivery_attempts') AS at, pg_indexes_size('delivery_attempts') AS ai`,
      );
      const per = (v: string | undefined) => Math.round(Number(v) / sizeEvents);
      const total = per(s?.nt) + per(s?.ni) + per(s?.at) + per(s?.ai);
      process.stdout.write(
        `${bytes / 1024} KB    ${kept ? "kept   " : "cleared"}   ${per(s?.nt)} / ${per(s?.ni)}`.padEnd(62) +
          `${per(s?.at)} / ${per(s?.ai)}`.padEnd(37) +
          `${total} B  (${((total * 1e6) / 2 ** 30).toFixed(2)} GiB per million)\n`,
      );
    }
  }
  await sql("TRUNCATE notifications, delivery_attempts");
}

async function measureBatches(): Promise<void> {
  process.stdout.write(`\n2. A ledger of ${rows} notifications over 120 days\n`);
  let t = performance.now();
  // Oldest last, like a ledger filled over time; payloads kept for the last 31 days, cleared before.
  await sql(
    `INSERT INTO notifications (event_id, project, type, status, attempts, svix_app_uid, svix_message_id, payload, payload_purged_at,
       payload_digest, transport, pubsub_message_id, subscription, delivery_attempt, publish_time, created_at, updated_at, delivered_at)
     SELECT 'evt_' || substr(md5(i::text), 1, 28), 'project-' || (i % 500), 'user.created',
       (CASE WHEN i % 100 = 0 THEN 'rejected' WHEN i % 100 = 1 THEN 'failed' ELSE 'delivered' END)::"NotificationStatus",
       1, 'project-' || (i % 500), 'msg_' || substr(md5('m' || i), 1, 27),
       CASE WHEN ts > now() - interval '31 days' THEN repeat(md5(i::text), 30) END,
       CASE WHEN ts <= now() - interval '31 days' THEN ts + interval '30 days' END,
       encode(sha256(i::text::bytea), 'hex'), 'push_wrapped', (1000000000000 + i)::text,
       'projects/gigs-prod/subscriptions/relay-push', 1, ts, ts, ts, ts
     FROM (SELECT i, now() - (i::double precision / $1) * interval '120 days' AS ts FROM generate_series(1, $1::int) AS i) s`,
    [rows],
  );
  await sql(
    `INSERT INTO delivery_attempts (event_id, trigger, operation, started_at, duration_ms, outcome, http_status, svix_message_id)
     SELECT event_id, 'ingress', 'message.create', created_at, 80, 'delivered', 202, svix_message_id FROM notifications`,
  );
  await sql(
    `INSERT INTO svix_delivery_events (svix_id, type, event_id, app_uid, project, msg_id, endpoint_id, response_status, occurred_at, received_at)
     SELECT 'op_' || event_id, 'message.attempt.exhausted', event_id, project, project, svix_message_id, 'ep_1', 500, created_at, created_at
     FROM notifications WHERE hashtext(event_id) % 100 = 0`,
  );
  await sql("VACUUM ANALYZE");
  await sql("CHECKPOINT");
  process.stdout.write(`   built in ${((performance.now() - t) / 1000).toFixed(0)} s\n`);

  const store = new RetentionStore({ prisma: db.prisma });
  const now = Date.now();
  const run = async (label: string, cutoffs: { clearBefore: Date; deleteBefore: Date }, batches: number) => {
    const [{ lsn: lsn0 } = { lsn: "" }] = await sql<{ lsn: string }>("SELECT pg_current_wal_lsn()::text AS lsn");
    const times: number[] = [];
    let touched = 0;
    for (let i = 0; i < batches; i++) {
      t = performance.now();
      const r = await store.purge(cutoffs, batch, new Date());
      times.push(performance.now() - t);
      touched += (r?.notifications ?? 0) + (r?.payloads ?? 0);
    }
    const [{ wal } = { wal: "0" }] = await sql<{ wal: string }>(
      "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::text AS wal",
      [lsn0],
    );
    times.sort((a, b) => a - b);
    const total = times.reduce((a, b) => a + b, 0);
    process.stdout.write(
      `   ${label}: ${batches} batches of ${batch}, median ${times[Math.floor(batches / 2)]?.toFixed(0)} ms, ` +
        `max ${times.at(-1)?.toFixed(0)} ms, ${Math.round((touched * 1000) / total)} notifications/s, ` +
        `WAL ${Math.round(Number(wal) / touched)} B per notification\n`,
    );
  };
  const nothingToDelete = new Date(now - 3650 * DAY);
  await run(
    "delete (90 days, with attempts and delivery events)",
    { clearBefore: nothingToDelete, deleteBefore: new Date(now - 90 * DAY) },
    20,
  );
  await run("clear payloads (30 days)", { clearBefore: new Date(now - 30 * DAY), deleteBefore: nothingToDelete }, 10);
  await sql("DROP INDEX notifications_payload_kept_created_at_idx");
  await run(
    "clear payloads without the partial index",
    { clearBefore: new Date(now - 30 * DAY), deleteBefore: nothingToDelete },
    3,
  );
}

try {
  await migrate(db);
  await measureSizes();
  await measureBatches();
} finally {
  await db.close();
  await bench.drop();
}
