import type { Logger } from "pino";
import type pino from "pino";
import { createApp } from "./app.ts";
import type { Config } from "../config/config.ts";
import { configWarnings } from "../config/configRules.ts";
import { openDatabase, type Database } from "../db/database.ts";
import { migrate } from "../db/migrate.ts";
import { NotificationStore } from "../db/notificationStore.ts";
import { QuarantineStore } from "../db/quarantineStore.ts";
import { RetentionStore } from "../db/retentionStore.ts";
import { PurgeWorker } from "../core/purgeWorker.ts";
import { DeliveryEventStore } from "../db/deliveryEventStore.ts";
import { AppPortalService } from "../core/appPortalService.ts";
import { DeliveryEventsService } from "../core/deliveryEventsService.ts";
import { EventTypeCatalog } from "../core/eventTypeCatalog.ts";
import { OperationalWebhookVerifier } from "../svix/operationalWebhookVerifier.ts";
import { Dispatcher } from "../core/dispatcher.ts";
import { IngestService } from "../ingest/ingestService.ts";
import { NotificationService } from "../core/notificationService.ts";
import { systemClock, type Clock } from "../core/ports/clock.ts";
import { authOptionsFrom } from "../auth/authOptions.ts";
import { createLogger, ShedSummary } from "../observability/logger.ts";
import { createMetrics, type Metrics } from "../observability/metrics.ts";
import { SvixEmulator } from "../emulator/svixEmulator.ts";
import { ResilientSvixGateway } from "../svix/resilientGateway.ts";
import { SdkSvixGateway } from "../svix/svixGateway.ts";

export interface Container {
  config: Readonly<Config>;
  logger: Logger;
  metrics: Metrics;
  db: Database;
  store: NotificationStore;
  quarantine: QuarantineStore;
  service: NotificationService;
  ingest: IngestService;
  /** The Svix gateway with its rate-limit window, circuit and bulkhead. */
  svix: ResilientSvixGateway;
  /** Started when DISPATCH_ENABLED; tests may call pass() themselves. */
  dispatcher: Dispatcher;
  /** Personal-data retention; tests may call purgeAll() themselves. */
  purge: PurgeWorker;
  /** Svix's event-type catalog kept in step (undefined when EVENT_TYPE_CATALOG=false). */
  eventTypes: EventTypeCatalog | undefined;
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

/**
 * One authenticated Svix call at start: a key Svix refuses stops a production start (every event
 * would only queue up); an unreachable Svix is logged and shown by /readyz — events are queued
 * until it answers.
 */
async function checkSvix(sdk: SdkSvixGateway, config: Readonly<Config>, logger: Logger): Promise<string> {
  const { status, detail } = await sdk.checkCredentials();
  if (status === "unauthorized") {
    if (config.production)
      throw new StartupError(
        `SVIX_API_KEY was refused by Svix (${detail ?? "401"}): check the key and SVIX_SERVER_URL`,
      );
    logger.error({ detail }, "SVIX_API_KEY was refused by Svix: every event will be queued until the key works");
  } else if (status === "unreachable") {
    logger.warn({ detail }, "Svix could not be reached at start: events are queued until it answers");
  }
  return status;
}

/** A start-up failure to report in one line, without a stack. */
export class StartupError extends Error {
  override name = "StartupError";
}

/** Builds every dependency with plain constructors, migrates the database, and wires the app. */
export async function buildContainer(config: Readonly<Config>, overrides: ContainerOverrides = {}): Promise<Container> {
  const logger = createLogger({ level: config.logLevel, destination: overrides.logDestination });
  for (const warning of configWarnings(config)) logger.warn(warning);
  const metrics = createMetrics({ defaultMetrics: true });

  const closers: Array<() => Promise<void>> = [];
  try {
    // Svix first: a key Svix refuses stops a production start before anything else is touched.
    let emulator: SvixEmulator | undefined;
    let svixServerUrl = config.svixServerUrl;
    let svixApiKey = config.svixApiKey;
    if (config.svixEmulator) {
      emulator = new SvixEmulator();
      svixServerUrl = await emulator.start(config.svixEmulatorPort);
      svixApiKey = "emulator";
      closers.unshift(() => emulator!.stop());
      logger.warn(
        { svixServerUrl },
        "using the in-process Svix emulator (no SVIX_API_KEY, no DATABASE_URL, or SVIX_EMULATOR=true): no webhook leaves this machine",
      );
    }
    const sdk = new SdkSvixGateway({
      apiKey: svixApiKey!,
      serverUrl: svixServerUrl,
      requestTimeoutMs: config.svixTimeoutMs,
      metrics,
    });
    const svixStatus = await checkSvix(sdk, config, logger);

    const db =
      overrides.database ??
      (await openDatabase({
        databaseUrl: config.databaseUrl,
        dataDir: config.dataDir,
        poolMax: config.databasePoolMax,
      }));
    if (!overrides.database) closers.push(() => db.close());
    if (!overrides.database && config.migrateOnStart) {
      const applied = await migrate(db);
      logger.info({ database: db.kind, applied }, applied.length ? "database migrated" : "database schema up to date");
    }
    let dispatcher: Dispatcher | undefined;
    const gateway = new ResilientSvixGateway({
      inner: sdk,
      logger,
      metrics,
      maxRetries: config.svixMaxRetries,
      maxInFlight: config.svixMaxInFlight,
      circuitFailureThreshold: config.circuitFailureThreshold,
      circuitCooldownMs: config.circuitCooldownMs,
      onRecovered: () => dispatcher?.wake(),
    });
    const store = new NotificationStore({ prisma: db.prisma, sql: db.sql });
    const quarantine = new QuarantineStore({ prisma: db.prisma });
    const eventTypes = config.eventTypeCatalog ? new EventTypeCatalog({ svix: gateway, logger }) : undefined;
    // One clock for every service (tests pin it through overrides.clock).
    const clock = overrides.clock ?? systemClock;
    const deliveryEventStore = new DeliveryEventStore({ prisma: db.prisma });
    const deliveryEvents = new DeliveryEventsService({ ledger: deliveryEventStore, logger, metrics, clock });
    const appPortal = new AppPortalService({ svix: gateway, clock });
    const service = new NotificationService({
      eventTypes,
      ledger: store,
      svix: gateway,
      logger,
      metrics,
      clock,
      requestBudgetMs: config.requestBudgetMs,
      claimTtlMs: config.claimTtlMs,
      inFlightWaitMs: config.inFlightWaitMs,
      retryBaseDelayMs: config.retryBaseDelayMs,
      retryMaxDelayMs: config.retryMaxDelayMs,
      retryHorizonMs: config.retryHorizonMs,
    });
    const ingest = new IngestService({ service, quarantine, logger, metrics, maxEventValues: config.eventMaxValues });
    dispatcher = new Dispatcher({
      service,
      ledger: store,
      svix: gateway,
      logger,
      metrics,
      clock,
      intervalMs: config.dispatchIntervalMs,
      batchSize: config.dispatchBatchSize,
      concurrency: config.dispatchConcurrency,
      claimTtlMs: config.claimTtlMs,
    });
    if (config.dispatchEnabled) {
      dispatcher.start();
      const started = dispatcher;
      closers.unshift(() => started.stop());
    }
    const retention = new RetentionStore({ prisma: db.prisma });
    const purge = new PurgeWorker({
      retention,
      logger,
      metrics,
      clock,
      retentionDays: config.payloadRetentionDays,
      intervalMs: config.purgeIntervalMs,
    });
    purge.start();
    closers.unshift(() => purge.stop());
    const container: Container = {
      config,
      logger,
      metrics,
      db,
      store,
      quarantine,
      service,
      ingest,
      svix: gateway,
      dispatcher,
      purge,
      eventTypes,
      emulator,
      accepting: true,
      app: undefined as unknown as ReturnType<typeof createApp>,
      async close() {
        container.accepting = false;
        for (const close of closers)
          await close().catch((err: unknown) => logger.error({ err }, "error while closing"));
      },
    };
    const shed = new ShedSummary(logger);
    closers.push(async () => shed.stop());
    container.app = createApp({
      service,
      ingest,
      ledger: store,
      quarantine,
      logger,
      metrics,
      bodyLimitBytes: config.bodyLimitBytes,
      admission: {
        maxInFlight: config.ingestMaxInFlight,
        largeBodyBytes: config.largeBodyBytes,
        maxLargeInFlight: config.largeBodyConcurrency,
        onShed: () => shed.count("overloaded"),
      },
      auth: authOptionsFrom(config),
      readinessCacheMs: config.readinessCacheMs,
      accepting: () => container.accepting,
      svixStatus: () => svixStatus,
      onShed: (code) => shed.count(code),
      appPortal,
      deliveryEvents,
      deliveryEventLedger: deliveryEventStore,
      svixWebhooks: config.svixWebhookSecret ? new OperationalWebhookVerifier(config.svixWebhookSecret) : undefined,
    });
    return container;
  } catch (error) {
    for (const close of closers) await close().catch(() => undefined);
    throw error;
  }
}
