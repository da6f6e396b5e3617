import type { Database } from "./database.ts";
import { loadMigrations, NO_FILTER, withSchemaEngine } from "./schemaEngine.ts";

/**
 * Applies the pending migrations of prisma/migrations and returns their names. Several instances
 * starting at once take turns on a database lock; the later ones find nothing left to apply.
 */
export async function migrate(db: Database): Promise<string[]> {
  const migrationsList = await loadMigrations();
  return db.withMigrationAdapter((adapterFactory) =>
    withSchemaEngine(adapterFactory, async (engine) => {
      const { appliedMigrationNames } = await engine.applyMigrations({ migrationsList, filters: NO_FILTER });
      return appliedMigrationNames;
    }),
  );
}
