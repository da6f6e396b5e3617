// Mutation testing only (vitest.mutation.config.ts names this file as its globalSetup): a new
// PGlite database costs ~3–4 s of initdb, and Stryker starts hundreds of relays. This builds one
// migrated embedded database folder per test run; each harness or test database then opens a copy
// of it (in /dev/shm when there is one) through the relay's own openDatabase, in ~0.5 s. The normal
// test run provides no template and keeps its in-memory databases.
import { cpSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inject } from "vitest";
import type { TestProject } from "vitest/node";
import { openDatabase } from "../../src/db/database.ts";
import { migrate } from "../../src/db/migrate.ts";

declare module "vitest" {
  export interface ProvidedContext {
    pgliteTemplate: string | undefined;
  }
}

const scratch = () => (existsSync("/dev/shm") ? "/dev/shm" : tmpdir());

export default async function setup(project: TestProject): Promise<() => void> {
  const dir = mkdtempSync(join(scratch(), "relay-pglite-template-"));
  const db = await openDatabase({ dataDir: dir });
  await migrate(db);
  await db.close();
  project.provide("pgliteTemplate", dir);
  return () => rmSync(dir, { recursive: true, force: true });
}

/** A fresh copy of the migrated template as a DATA_DIR, when the run provides one. */
export function pgliteFromTemplate(): { dataDir: string; remove(): void } | undefined {
  const template = inject("pgliteTemplate");
  if (!template) return undefined;
  const dataDir = mkdtempSync(join(scratch(), "relay-pglite-"));
  cpSync(template, dataDir, { recursive: true });
  return { dataDir, remove: () => rmSync(dataDir, { recursive: true, force: true }) };
}
