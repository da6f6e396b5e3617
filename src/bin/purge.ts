// `npm run purge`: applies retention now, until nothing old is left (the relay also does it every
// PURGE_INTERVAL_MS): clears personal data older than PAYLOAD_RETENTION_DAYS and deletes audit rows
// older than AUDIT_RETENTION_DAYS.
import { pino } from "pino";
import { ConfigError, type JobConfig } from "../config/config.ts";
import { loadJobConfig } from "../config/loadConfig.ts";
import { PurgeWorker } from "../core/purgeWorker.ts";
import { systemClock } from "../core/ports/clock.ts";
import { createMetrics } from "../observability/metrics.ts";
import { openDatabase } from "../db/database.ts";
import { RetentionStore } from "../db/retentionStore.ts";

if (process.argv.includes("--help") || process.argv.includes("-h")) {
  process.stdout.write(`npm run purge — apply retention once, now

Clears the personal data of what arrived more than PAYLOAD_RETENTION_DAYS (default 30) days ago:
the payloads of settled notifications (delivered, rejected, failed), and the bodies, messages and
details of quarantined messages; their audit rows (ids, statuses, attempts, errors, sizes) stay.
Deletes what arrived more than AUDIT_RETENTION_DAYS (default 90) days ago: settled notifications
with their delivery attempts and Svix delivery events, and quarantined messages. Notifications
still received or queued are never touched. Works in batches of PURGE_BATCH_SIZE (1000) rows of
each kind, each its own short transaction, until nothing old is left. Uses DATABASE_URL (or the embedded database in
DATA_DIR). Only one purge runs at a time across instances.
`);
  process.exit(0);
}

let config: JobConfig;
try {
  config = loadJobConfig();
} catch (error) {
  process.stderr.write(`${error instanceof ConfigError ? error.message : String(error)}\n`);
  process.exit(1);
}
const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
try {
  const worker = new PurgeWorker({
    retention: new RetentionStore({ prisma: db.prisma }),
    logger: pino({ level: "silent" }),
    metrics: createMetrics(),
    clock: systemClock,
    payloadRetentionDays: config.payloadRetentionDays,
    auditRetentionDays: config.auditRetentionDays,
    intervalMs: config.purgeIntervalMs,
    batchSize: config.purgeBatchSize,
  });
  const r = await worker.purgeAll();
  if (r.skipped) process.stdout.write("another instance is purging right now; stopped here\n");
  process.stdout.write(
    `cleared, older than ${config.payloadRetentionDays} days: ${r.payloads} notification payload(s), ${r.quarantineBodies} quarantined message(s) (body, message and details)\n` +
      `deleted, older than ${config.auditRetentionDays} days: ${r.notifications} notification(s) with ${r.attempts} delivery attempt(s), ${r.deliveryEvents} delivery event(s), ${r.quarantined} quarantined message(s)\n`,
  );
} finally {
  await db.close();
}
