// `npm run db:new-migration -- <name>`: writes prisma/migrations/<timestamp>_<name>/migration.sql
// with the SQL that takes the existing migrations to prisma/schema.prisma. It replaces
// `prisma migrate dev --create-only` where Prisma's native engine cannot be installed, using the
// WebAssembly engine on a throw-away in-memory database.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { openDatabase } from "../src/db/database.ts";
import { loadMigrations, MIGRATIONS_DIR, NO_FILTER, withSchemaEngine } from "../src/db/schemaEngine.ts";

const name = process.argv[2];
if (name === "--help" || name === "-h") {
  process.stdout.write(
    "npm run db:new-migration -- <name in snake_case> — writes the migration that takes prisma/migrations to prisma/schema.prisma\n",
  );
  process.exit(0);
}
if (!name || !/^[a-z0-9_]+$/.test(name)) {
  process.stderr.write("usage: npm run db:new-migration -- <name in snake_case>\n");
  process.exit(2);
}
const db = await openDatabase({ dataDir: "memory://" });
try {
  const migrations = await loadMigrations();
  const from = migrations.migrationDirectories.length
    ? { tag: "migrations" as const, ...migrations }
    : { tag: "empty" as const };
  const sql = await db.withMigrationAdapter((adapterFactory) =>
    withSchemaEngine(adapterFactory, async (engine, schema) => {
      const result = await engine.diff({
        from,
        to: { tag: "schemaDatamodel", files: [{ path: "schema.prisma", content: schema }] },
        script: true,
        exitCode: null,
        filters: NO_FILTER,
      });
      return result.stdout ?? "";
    }),
  );
  if (!sql.trim() || sql.includes("This is an empty migration")) {
    process.stdout.write("schema.prisma matches the migrations: nothing to write\n");
  } else {
    const stamp = new Date().toISOString().replace(/\D/g, "").slice(0, 14);
    const dir = join(MIGRATIONS_DIR, `${stamp}_${name}`);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "migration.sql"), sql);
    process.stdout.write(`wrote ${dir}/migration.sql\n`);
  }
} finally {
  await db.close();
}
