// Mutation testing only (vitest.mutation.config.ts names this file as its globalSetup): a new
// PGlite database costs ~3–4 s of initdb, and Stryker starts hundreds of relays. This builds one
// migrated embedded database folder per test run; each harness or test database then opens a copy
// of it (in /dev/shm when there is one) through the relay's own openDatabase, in ~0.5 s. The normal
// test run provides no template and keeps its in-memory databases.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inject } from "vitest";
import type { TestProject } from "vitest/node";
import { isAlive, openDatabase } from "../../src/db/database.ts";
import { migrate } from "../../src/db/migrate.ts";

declare module "vitest" {
  export interface ProvidedContext {
    pgliteTemplate: string | undefined;
  }
}

const scratch = () => (existsSync("/dev/shm") ? "/dev/shm" : tmpdir());

export default async function setup(project: TestProject): Promise<() => void> {
  // A run Stryker killed (a mutant that timed out) left its folders behind: they are named after
  // the process that made them, and removed once that process is gone.
  for (const entry of readdirSync(scratch())) {
    const pid = Number(/^relay-pglite-(\d+)-/.exec(entry)?.[1]);
    if (pid && !isAlive(pid)) rmSync(join(scratch(), entry), { recursive: true, force: true });
  }
  // The template and, inside it, the copies: one folder to remove when the run ends.
  const dir = mkdtempSync(join(scratch(), `relay-pglite-${process.pid}-`));
  const template = join(dir, "template");
  mkdirSync(template);
  const db = await openDatabase({ dataDir: template });
  await migrate(db);
  await db.close();
  mkdirSync(join(dir, "copies"));
  project.provide("pgliteTemplate", template);
  return () => rmSync(dir, { recursive: true, force: true });
}

/** A fresh copy of the migrated template as a DATA_DIR, when the run provides one. */
export function pgliteFromTemplate(): { dataDir: string; remove(): void } | undefined {
  const template = inject("pgliteTemplate");
  if (!template) return undefined;
  const dataDir = mkdtempSync(join(template, "..", "copies", "db-"));
  cpSync(template, dataDir, { recursive: true });
  return { dataDir, remove: () => rmSync(dataDir, { recursive: true, force: true }) };
}
