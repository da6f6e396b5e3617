// `npm run purge`: clears, now, the payloads of settled notifications and the bodies of quarantined
// messages older than PAYLOAD_RETENTION_DAYS (the relay also does it every PURGE_INTERVAL_MS).
import { pino } from "pino";
import { ConfigError, type JobConfig } from "../config/config.ts";
import { loadJobConfig } from "../config/loadConfig.ts";
import { PurgeWorker } from "../core/purgeWorker.ts";
import { systemClock } from "../core/ports/clock.ts";
import { createMetrics } from "../observability/metrics.ts";
import { openDatabase } from "../db/database.ts";
import { RetentionStore } from "../db/retentionStore.ts";

if (process.argv.includes("--help") || process.argv.includes("-h")) {
  process.stdout.write(`npm run purge — clear personal data past its retention, once

Clears the payloads of settled notifications (delivered, rejected, failed) and the bodies of
quarantined messages that arrived more than PAYLOAD_RETENTION_DAYS (default 30) days ago. The
audit rows (ids, statuses, attempts, errors) stay. Uses DATABASE_URL (or the embedded database
in DATA_DIR). Only one purge runs at a time across instances.
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
    retentionDays: config.payloadRetentionDays,
    intervalMs: config.purgeIntervalMs,
  });
  const result = await worker.purgeAll();
  process.stdout.write(
    result.skipped && result.notifications + result.quarantined === 0
      ? "another instance is purging right now; nothing done\n"
      : `purged ${result.notifications} notification payload(s) and ${result.quarantined} quarantined body(ies) older than ${config.payloadRetentionDays} days\n`,
  );
} finally {
  await db.close();
}
