import type { Logger } from "pino";
import type pino from "pino";
import { createApp } from "./app.ts";
import { configWarnings, type Config } from "./config.ts";
import { openDatabase, type Database } from "./db/database.ts";
import { migrate } from "./db/migrate.ts";
import { NotificationStore } from "./db/notificationStore.ts";
import { NotificationService } from "./notifications/notificationService.ts";
import { RedriveWorker } from "./notifications/redriveWorker.ts";
import { systemClock, type Clock } from "./notifications/ports.ts";
import { createLogger } from "./observability/logger.ts";
import { createMetrics, type Metrics } from "./observability/metrics.ts";
import { SvixEmulator } from "./emulator/svixEmulator.ts";
import { ResilientSvixGateway } from "./svix/resilientGateway.ts";
import { SdkSvixGateway } from "./svix/svixGateway.ts";

export interface Container {
  config: Readonly<Config>;
  logger: Logger;
  metrics: Metrics;
  db: Database;
  store: NotificationStore;
  service: NotificationService;
  /** The Svix gateway with its rate-limit window, circuit and bulkhead. */
  svix: ResilientSvixGateway;
  /** Started when REDRIVE_ENABLED; tests may call tick() themselves. */
  redrive: RedriveWorker;
  app: ReturnType<typeof createApp>;
  /** Set when no Svix was configured and the in-process emulator stands in. */
  emulator: SvixEmulator | undefined;
  /** False once shutdown began. */
  accepting: boolean;
  close(): Promise<void>;
}

export interface ContainerOverrides {
  logDestination?: pino.DestinationStream;
  clock?: Clock;
  /** An already open (and migrated) database to use instead of opening one; left open on close. */
  database?: Database;
}

/** Builds every dependency with plain constructors, migrates the database, and wires the app. */
export async function buildContainer(config: Readonly<Config>, overrides: ContainerOverrides = {}): Promise<Container> {
  const logger = createLogger({ level: config.logLevel, destination: overrides.logDestination });
  for (const warning of configWarnings(config)) logger.warn(warning);
  const metrics = createMetrics({ defaultMetrics: true });

  const db = overrides.database ?? (await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolMax: config.databasePoolMax }));
  const closers: Array<() => Promise<void>> = overrides.database ? [] : [() => db.close()];
  try {
    if (!overrides.database) {
      const applied = await migrate(db);
      logger.info({ database: db.kind, applied }, applied.length ? "database migrated" : "database schema up to date");
    }

    let emulator: SvixEmulator | undefined;
    let svixServerUrl = config.svixServerUrl;
    let svixApiKey = config.svixApiKey;
    if (!svixApiKey) {
      emulator = new SvixEmulator();
      svixServerUrl = await emulator.start(config.svixEmulatorPort);
      svixApiKey = "emulator";
      closers.unshift(() => emulator!.stop());
      logger.warn({ svixServerUrl }, "SVIX_API_KEY is not set: using the in-process Svix emulator; no webhook leaves this machine");
    }
    const gateway = new ResilientSvixGateway({
      inner: new SdkSvixGateway({ apiKey: svixApiKey, serverUrl: svixServerUrl, requestTimeoutMs: config.svixTimeoutMs, metrics }),
      logger,
      metrics,
      maxRetries: config.svixMaxRetries,
      maxInFlight: config.svixMaxInFlight,
      circuitFailureThreshold: config.circuitFailureThreshold,
      circuitCooldownMs: config.circuitCooldownMs,
    });
    const store = new NotificationStore({ prisma: db.prisma });
    const service = new NotificationService({
      ledger: store,
      applications: store,
      svix: gateway,
      logger,
      metrics,
      clock: overrides.clock ?? systemClock,
      requestBudgetMs: config.requestBudgetMs,
      claimTtlMs: config.claimTtlMs,
      inFlightWaitMs: config.inFlightWaitMs,
      redriveBaseDelayMs: config.redriveBaseDelayMs,
      redriveMaxDelayMs: config.redriveMaxDelayMs,
    });
    const redrive = new RedriveWorker({
      service,
      ledger: store,
      svix: gateway,
      logger,
      metrics,
      clock: overrides.clock ?? systemClock,
      intervalMs: config.redriveIntervalMs,
      batchSize: config.redriveBatchSize,
    });
    if (config.redriveEnabled) {
      redrive.start();
      closers.unshift(() => redrive.stop());
    }
    const container: Container = {
      config,
      logger,
      metrics,
      db,
      store,
      service,
      svix: gateway,
      redrive,
      emulator,
      accepting: true,
      app: undefined as unknown as ReturnType<typeof createApp>,
      async close() {
        container.accepting = false;
        for (const close of closers) await close().catch((err: unknown) => logger.error({ err }, "error while closing"));
      },
    };
    container.app = createApp({
      service,
      ledger: store,
      logger,
      metrics,
      bodyLimitBytes: config.bodyLimitBytes,
      apiTokens: config.apiTokens,
      accepting: () => container.accepting,
    });
    return container;
  } catch (error) {
    for (const close of closers) await close().catch(() => undefined);
    throw error;
  }
}
