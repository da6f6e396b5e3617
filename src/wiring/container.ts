import { Duration, PubSub } from "@google-cloud/pubsub";
import type { Logger } from "pino";
import type pino from "pino";
import { authOptionsFrom } from "./authOptions.ts";
import type { AuthOptions } from "../auth/authenticate.ts";
import type { Config } from "../config/config.ts";
import { configWarnings } from "../config/configRules.ts";
import { AppPortalService } from "../core/appPortalService.ts";
import { DeliveryEventsService } from "../core/deliveryEventsService.ts";
import { Dispatcher } from "../core/dispatcher.ts";
import { loadEventTypeCatalog } from "../config/eventTypeCatalogFile.ts";
import { DeclaredEventTypes } from "../core/declaredEventTypes.ts";
import { EventTypeCatalog } from "../core/eventTypeCatalog.ts";
import { NotificationService } from "../core/notificationService.ts";
import { type Clock, systemClock } from "../core/ports/clock.ts";
import { PurgeWorker } from "../core/purgeWorker.ts";
import { type Database, openDatabase } from "../db/database.ts";
import { DeliveryEventStore } from "../db/deliveryEventStore.ts";
import { migrate } from "../db/migrate.ts";
import { NotificationStore } from "../db/notificationStore.ts";
import { QuarantineStore } from "../db/quarantineStore.ts";
import { RetentionStore } from "../db/retentionStore.ts";
import { SvixEmulator } from "../emulator/svixEmulator.ts";
import { IngestService } from "../ingest/ingestService.ts";
import { createLogger, ShedSummary } from "../observability/logger.ts";
import { createMetrics, type Metrics } from "../observability/metrics.ts";
import type { QueueSource } from "../observability/queueGauges.ts";
import { PullWorker } from "../pubsub/pullWorker.ts";
import { OperationalWebhookVerifier } from "../svix/operationalWebhookVerifier.ts";
import { Pacer } from "../svix/pacer.ts";
import { ResilientSvixGateway } from "../svix/resilientGateway.ts";
import { SdkSvixGateway } from "../svix/svixGateway.ts";

/**
 * What a process does besides holding the relay's parts:
 * - api: serves the whole HTTP API (ingest, operators, dashboard);
 * - pull: pulls events from a Pub/Sub subscription (PUBSUB_SUBSCRIPTION);
 * - dispatch: delivers queued notifications (DISPATCH_ENABLED) and applies retention (old personal data, old audit rows).
 * A process without api serves only the probes (/healthz, /readyz, /metrics).
 */
export type Role = "api" | "pull" | "dispatch";

export interface ContainerOverrides {
  /** Where log lines go (tests keep them); stdout when absent. */
  logDestination?: pino.DestinationStream;
  /** The one clock of every part: services, Svix gateway and pacer, dashboard, readiness. */
  clock?: Clock;
  /** An already open (and migrated) database to use instead of opening one; left open on close. */
  database?: Database;
  /** The event-type catalog to read instead of schemas/event-types.json (tests of a broken one). */
  eventTypeCatalogPath?: string;
}

/** Whether this instance takes work: false from the moment shutdown begins (/readyz answers 503). */
export class Readiness {
  #accepting = true;

  get accepting(): boolean {
    return this.#accepting;
  }

  stopAccepting(): void {
    this.#accepting = false;
  }
}

export interface Container {
  readonly config: Readonly<Config>;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly db: Database;
  readonly store: NotificationStore;
  readonly quarantine: QuarantineStore;
  readonly deliveryEventStore: DeliveryEventStore;
  /** Retention's batches in the ledger (the purge worker runs them). */
  readonly retention: RetentionStore;
  /** The Svix gateway with its rate-limit window, circuit, bulkhead and pacer. */
  readonly svix: ResilientSvixGateway;
  /** Svix's rate limit as learned from its 429s (shared by the fast path and the dispatcher). */
  readonly pacer: Pacer;
  readonly service: NotificationService;
  readonly ingest: IngestService;
  /** Runs when the dispatch role is started and DISPATCH_ENABLED; tests may call pass() themselves. */
  readonly dispatcher: Dispatcher;
  /** Retention of personal data and audit rows; tests may call purgeAll() themselves. */
  readonly purge: PurgeWorker;
  /** The declared event types (schemas/event-types.json) and what happens to others (UNDECLARED_EVENT_TYPES). */
  readonly declaredEventTypes: DeclaredEventTypes;
  /** Svix's event-type catalog kept in step with the declared types (undefined when EVENT_TYPE_CATALOG=false). */
  readonly eventTypes: EventTypeCatalog | undefined;
  readonly appPortal: AppPortalService;
  readonly deliveryEvents: DeliveryEventsService;
  /** Set with SVIX_WEBHOOK_SECRET: verifies Svix's operational webhooks. */
  readonly webhookVerifier: OperationalWebhookVerifier | undefined;
  /** Set when no Svix was configured and the in-process emulator stands in. */
  readonly emulator: SvixEmulator | undefined;
  /** What the start-up check found about Svix: ok, unauthorized or unreachable. */
  readonly svixStatus: string;
  readonly auth: AuthOptions;
  /** Expected shedding, summarized every 10 s instead of logged per request. */
  readonly shed: ShedSummary;
  readonly readiness: Readiness;
  /** The pull role's worker, once started. */
  readonly puller: PullWorker | undefined;
  /** Starts the background work of these roles (dispatch: dispatcher and purge; pull: the pull worker). */
  start(roles: readonly Role[]): void;
  /**
   * Registers something to stop before everything built so far (a server, say): shutdown runs in
   * reverse order. `timeLeft()` is what remains of SHUTDOWN_TIMEOUT_MS, in ms (0 once it is spent).
   */
  onClose(close: (timeLeft: () => number) => Promise<void>): void;
  /** Stops accepting, then stops everything in the reverse order of start, within SHUTDOWN_TIMEOUT_MS. */
  close(): Promise<void>;
}

/** A start-up failure to report in one line, without a stack. */
export class StartupError extends Error {
  override name = "StartupError";
}

/**
 * One authenticated Svix call at start: a key Svix refuses stops a production start (every event
 * would only queue up); an unreachable Svix is logged and shown by /readyz — events are queued
 * until it answers.
 */
async function checkSvix(sdk: SdkSvixGateway, config: Readonly<Config>, logger: Logger): Promise<string> {
  const { status, detail } = await sdk.checkCredentials();
  if (status === "unauthorized") {
    if (config.production) {
      throw new StartupError(
        `SVIX_API_KEY was refused by Svix (${detail ?? "401"}): check the key and SVIX_SERVER_URL`,
      );
    }
    logger.error({ detail }, "SVIX_API_KEY was refused by Svix: every event will be queued until the key works");
  } else if (status === "unreachable") {
    logger.warn({ detail }, "Svix could not be reached at start: events are queued until it answers");
  }
  return status;
}

/**
 * The composition root: every process (the relay, the pull worker, the tests' worlds) is built
 * here, from the configuration plus overrides, with plain constructors and one clock. Opens (and
 * migrates) the database and checks Svix; starts no background work until start(roles).
 */
export async function buildContainer(config: Readonly<Config>, overrides: ContainerOverrides = {}): Promise<Container> {
  const clock = overrides.clock ?? systemClock;
  const logger = createLogger({
    level: config.logLevel,
    destination: overrides.logDestination,
    pretty: !overrides.logDestination && !config.production && process.stdout.isTTY === true,
    traceProject: config.googleCloudProject,
  });
  for (const warning of configWarnings(config)) logger.warn(warning);
  const metrics = createMetrics({ defaultMetrics: true });
  // A broken catalog stops the start in one line, before anything is opened or called.
  const declaredEventTypes = new DeclaredEventTypes({
    declared: loadEventTypeCatalog(overrides.eventTypeCatalogPath),
    undeclared: config.undeclaredEventTypes,
    logger,
    metrics,
  });

  // Stopped in reverse order of registration: the last thing started stops first.
  // One deadline for the whole shutdown, shared by every step that waits (the HTTP drain, then the
  // deliveries made after an answer): each gets what the steps before it left, so the process is
  // done within SHUTDOWN_TIMEOUT_MS (plus the short steps) and not once per step.
  const closers: Array<(timeLeft: () => number) => Promise<void>> = [];
  const closeAll = async () => {
    const deadline = clock.now() + config.shutdownTimeoutMs;
    const timeLeft = () => Math.max(0, deadline - clock.now());
    while (closers.length > 0) {
      await closers.pop()!(timeLeft).catch((err: unknown) => logger.error({ err }, "error while closing"));
    }
  };
  try {
    // Svix first: a key Svix refuses stops a production start before anything else is touched.
    let emulator: SvixEmulator | undefined;
    let svixServerUrl = config.svixServerUrl;
    let svixApiKey = config.svixApiKey;
    if (config.svixEmulator) {
      const started = new SvixEmulator();
      emulator = started;
      svixServerUrl = await started.start(config.svixEmulatorPort);
      svixApiKey = "emulator";
      closers.push(() => started.stop());
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
      clock,
    });
    const svixStatus = await checkSvix(sdk, config, logger);

    const db =
      overrides.database ??
      (await openDatabase({
        databaseUrl: config.databaseUrl,
        dataDir: config.dataDir,
        poolMax: config.databasePoolMax,
      }));
    if (!overrides.database) {
      closers.push(() => db.close());
      if (config.migrateOnStart) {
        const applied = await migrate(db);
        logger.info(
          { database: db.kind, applied },
          applied.length ? "database migrated" : "database schema up to date",
        );
      }
    }

    let dispatcher: Dispatcher | undefined;
    const pacer = new Pacer({ clock });
    const svix = new ResilientSvixGateway({
      inner: sdk,
      logger,
      metrics,
      clock,
      pacer,
      maxRetries: config.svixMaxRetries,
      maxInFlight: config.svixMaxInFlight,
      circuitFailureThreshold: config.circuitFailureThreshold,
      circuitCooldownMs: config.circuitCooldownMs,
      onRecovered: () => dispatcher?.wake(),
      onOpened: () => dispatcher?.wake(),
    });
    const store = new NotificationStore({ prisma: db.prisma, sql: db.sql });
    metrics.watchQueue(queueSource(store, clock));
    const quarantine = new QuarantineStore({ prisma: db.prisma });
    const deliveryEventStore = new DeliveryEventStore({ prisma: db.prisma });
    const eventTypes = config.eventTypeCatalog
      ? new EventTypeCatalog({ svix, declared: declaredEventTypes, logger })
      : undefined;
    const service = new NotificationService({
      eventTypes,
      eventTypePolicy: declaredEventTypes,
      ledger: store,
      svix,
      logger,
      metrics,
      clock,
      requestBudgetMs: config.requestBudgetMs,
      claimTtlMs: config.claimTtlMs,
      inFlightWaitMs: config.inFlightWaitMs,
      retryBaseDelayMs: config.retryBaseDelayMs,
      retryMaxDelayMs: config.retryMaxDelayMs,
      retryHorizonMs: config.retryHorizonMs,
      onDueNow: () => dispatcher?.wake(),
    });
    // Stopped after the servers and workers that feed it, before the database: deliveries made
    // after an answer finish (or are handed back) while the ledger is still there.
    closers.push(async (timeLeft) => {
      await service.stop(timeLeft());
    });
    dispatcher = new Dispatcher({
      service,
      ledger: store,
      svix,
      logger,
      metrics,
      clock,
      intervalMs: config.dispatchIntervalMs,
      batchSize: config.dispatchBatchSize,
      concurrency: config.dispatchConcurrency,
      claimTtlMs: config.claimTtlMs,
    });
    const retention = new RetentionStore({ prisma: db.prisma });
    const purge = new PurgeWorker({
      retention,
      logger,
      metrics,
      clock,
      payloadRetentionDays: config.payloadRetentionDays,
      auditRetentionDays: config.auditRetentionDays,
      intervalMs: config.purgeIntervalMs,
      batchSize: config.purgeBatchSize,
    });
    const shed = new ShedSummary(logger);
    closers.push(async () => shed.stop());
    const readiness = new Readiness();

    let puller: PullWorker | undefined;
    const started = new Set<Role>();
    const container: Container = {
      config,
      clock,
      logger,
      metrics,
      db,
      store,
      quarantine,
      deliveryEventStore,
      retention,
      svix,
      pacer,
      service,
      ingest: new IngestService({ service, quarantine, logger, metrics, maxEventValues: config.eventMaxValues }),
      dispatcher,
      purge,
      declaredEventTypes,
      eventTypes,
      appPortal: new AppPortalService({ svix, clock }),
      deliveryEvents: new DeliveryEventsService({ ledger: deliveryEventStore, logger, metrics, clock }),
      webhookVerifier: config.svixWebhookSecret
        ? new OperationalWebhookVerifier(config.svixWebhookSecret, clock)
        : undefined,
      emulator,
      svixStatus,
      auth: authOptionsFrom(config, clock, metrics),
      shed,
      readiness,
      get puller() {
        return puller;
      },
      start(roles) {
        for (const role of roles) {
          if (started.has(role)) continue;
          started.add(role);
          if (role === "dispatch") {
            purge.start();
            closers.push(() => purge.stop());
            if (config.dispatchEnabled) {
              const running = dispatcher!;
              running.start();
              closers.push((timeLeft) => running.stop(timeLeft()));
            }
          }
          if (role === "pull") {
            const pulling = startPulling(container);
            puller = pulling.worker;
            closers.push(pulling.stop);
          }
        }
      },
      onClose(close) {
        closers.push(close);
      },
      async close() {
        readiness.stopAccepting();
        await closeAll();
      },
    };
    return container;
  } catch (error) {
    await closeAll();
    throw error;
  }
}

/** The queue's gauges read the ledger, on the relay's clock (claims expire by it; ages are measured with it). */
function queueSource(store: NotificationStore, clock: Clock): QueueSource {
  return {
    now: () => clock.now(),
    async read() {
      const depth = await store.queueDepth(new Date(clock.now()));
      const arrivals = [depth.oldestQueuedAt, depth.oldestStuckAt].flatMap((at) => (at ? [at.getTime()] : []));
      return {
        queued: depth.queued,
        stuck: depth.stuck,
        oldestArrivalMs: arrivals.length > 0 ? Math.min(...arrivals) : null,
      };
    },
  };
}

/** The pull role: streaming pull from PUBSUB_SUBSCRIPTION with its flow control, through the same ingest path. */
function startPulling(container: Container): { worker: PullWorker; stop: () => Promise<void> } {
  const { config, logger, metrics, ingest } = container;
  const subscriptionName = config.pubsubSubscription;
  if (!subscriptionName) {
    throw new StartupError(
      "PUBSUB_SUBSCRIPTION is required for the pull worker (projects/<project>/subscriptions/<subscription>)",
    );
  }
  const pubsub = new PubSub({ projectId: subscriptionName.split("/")[1] });
  const subscription = pubsub.subscription(subscriptionName, {
    flowControl: { maxMessages: config.pullMaxMessages, maxBytes: config.pullMaxBytes, allowExcessMessages: false },
    // What the library still holds when we stop is handed back at once, not left to expire.
    closeOptions: { behavior: "NACK", timeout: Duration.from({ seconds: 10 }) },
  });
  const worker = new PullWorker({ subscription, subscriptionName, ingest, logger, metrics });
  worker.start();
  return {
    worker,
    async stop() {
      await worker.stop();
      await pubsub.close();
    },
  };
}
