import supertest from "supertest";
import { loadConfig } from "../../src/config/loadConfig.ts";
import type { Express } from "express";
import type { Clock } from "../../src/core/ports/clock.ts";
import { createApp } from "../../src/wiring/app.ts";
import { buildContainer, type Container } from "../../src/wiring/container.ts";
import type { Database } from "../../src/db/database.ts";
import { SvixEmulator } from "../../src/emulator/svixEmulator.ts";
import { pgliteFromTemplate } from "./pgliteTemplate.ts";
import { createPostgresDatabase, usingPostgres } from "./testDatabase.ts";
import { captureLogs } from "./capturedLogs.ts";

export interface Harness {
  container: Container;
  /** The relay's HTTP app (the whole API), served in-process by `http`. */
  app: Express;
  emulator: SvixEmulator;
  http: ReturnType<typeof supertest>;
  /** The PostgreSQL database URL the relay uses (undefined on PGlite, which lives in the relay). */
  databaseUrl: string | undefined;
  /** Every log line the relay wrote, parsed. */
  logs: Array<Record<string, unknown>>;
  rawLogs: string[];
  /** Waits for the Svix calls the relay makes after answering on commit (Pub/Sub, respond-async). */
  settle(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The relay as `npm start` builds it (buildContainer), on a fresh test database, talking to its
 * own Svix emulator over HTTP through the real svix SDK. Served in-process through supertest.
 */
export interface HarnessShared {
  /** Use this emulator (owned by the caller) instead of starting one. */
  emulator?: SvixEmulator;
  /** Use this PostgreSQL database (owned by the caller) instead of creating one. */
  databaseUrl?: string;
  /** Use this open database (PGlite: how two "instances" share one embedded database in a process). */
  database?: Database;
  /** One clock for the whole relay (a test's fake clock); the system clock when absent. */
  clock?: Clock;
}

export async function startHarness(env: Record<string, string> = {}, shared: HarnessShared = {}): Promise<Harness> {
  const emulator = shared.emulator ?? new SvixEmulator({ apiKey: "test-key" });
  const svixUrl = shared.emulator ? shared.emulator.url : await emulator.start();
  const pgDb = shared.databaseUrl || shared.database || !usingPostgres() ? undefined : await createPostgresDatabase();
  const databaseUrl = shared.databaseUrl ?? pgDb?.url;
  // Mutation testing: a copy of a migrated embedded database instead of a new in-memory one.
  const pglite = databaseUrl || shared.database || env.DATA_DIR ? undefined : pgliteFromTemplate();
  const captured = captureLogs();
  const config = loadConfig({
    LOG_LEVEL: "info",
    DATA_DIR: pglite?.dataDir ?? "memory://",
    SVIX_API_KEY: "test-key",
    SVIX_SERVER_URL: svixUrl,
    DISPATCH_ENABLED: "false",
    EVENT_TYPE_CATALOG: "false",
    // Open unless a test configures credentials (then OPEN_API changes nothing).
    OPEN_API: "true",
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    ...env,
  });
  const container = await buildContainer(config, {
    logDestination: captured.destination,
    database: shared.database,
    clock: shared.clock,
  });
  // As `npm start` runs it: the whole API, and the dispatch role (the dispatcher only with DISPATCH_ENABLED).
  const app = createApp(container, "api");
  container.start(["dispatch"]);
  // The relay's start-up check of the Svix key is not part of any test's story.
  if (!shared.emulator) emulator.calls.length = 0;
  return {
    container,
    app,
    emulator,
    http: supertest(app),
    databaseUrl,
    rawLogs: captured.lines,
    logs: captured.records,
    settle: () => container.service.idle(),
    async close() {
      await container.close();
      if (!shared.emulator) await emulator.stop();
      await pgDb?.drop();
      pglite?.remove();
    },
  };
}
