// `npm run db:migrate`: applies pending migrations and exits. Uses MIGRATE_DATABASE_URL when set
// (a role allowed to change the schema), else DATABASE_URL, else the embedded database.
import { ConfigError, type JobConfig } from "../config/config.ts";
import { loadJobConfig } from "../config/loadConfig.ts";
import { openDatabase } from "../db/database.ts";
import { migrate } from "../db/migrate.ts";

if (process.argv.includes("--help") || process.argv.includes("-h")) {
  process.stdout.write(`npm run db:migrate — apply pending migrations (prisma/migrations) and exit

Database: MIGRATE_DATABASE_URL, else DATABASE_URL, else the embedded database in DATA_DIR.
Run it as a job before deploying, with MIGRATE_ON_START=false on the relay, so the serving role
needs no right to change the schema. Safe to run while relays are up: migrations take turns on a lock.
`);
  process.exit(0);
}

let config: JobConfig;
try {
  config = loadJobConfig(process.env, { migrate: true });
} catch (error) {
  process.stderr.write(`${error instanceof ConfigError ? error.message : String(error)}\n`);
  process.exit(1);
}
const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
try {
  const applied = await migrate(db);
  process.stdout.write(applied.length ? `applied: ${applied.join(", ")}\n` : "database schema up to date\n");
} finally {
  await db.close();
}
