import { afterAll, afterEach, beforeAll, expect, vi } from "vitest";
import type { Dispatcher } from "../../src/core/dispatcher.ts";
import type { PlatformEvent } from "../../src/core/event.ts";
import { eventDigest } from "../../src/core/eventDigest.ts";
import { loadConfig } from "../../src/config/loadConfig.ts";
import { NotificationStore } from "../../src/db/notificationStore.ts";
import { SvixEmulator } from "../../src/emulator/svixEmulator.ts";
import type { Metrics } from "../../src/observability/metrics.ts";
import type { Pacer } from "../../src/svix/pacer.ts";
import type { ResilientSvixGateway } from "../../src/svix/resilientGateway.ts";
import { buildContainer, type Container } from "../../src/wiring/container.ts";
import { captureLogs } from "./capturedLogs.ts";
import { makeEvent } from "./events.ts";
import { createTestDatabase, type TestDatabase } from "./testDatabase.ts";

// The dispatcher as the composition root wires it (src/wiring/container.ts): the real ledger on a
// real database, the real NotificationService, the real resilient gateway and SDK client talking
// over HTTP to the Svix emulator, real metrics and logger. Only time is ours: the container is
// given one fake clock that the dispatcher, the service, the gateway and its pacer all read, so
// the claim, backoff and release times they compute are exact.

export const T0 = Date.parse("2026-11-30T12:00:00.000Z");
export const HOUR = 3_600_000;
export const CLAIM_TTL = 30_000;

export let database: TestDatabase;
export let store: NotificationStore;
export let emulator: SvixEmulator;

export const sql = (text: string, params: unknown[] = []) => database.db.sql.query(text, params);

/** Database faults injected with triggers (a real failure of a real statement); dropped after each test. */
const triggers: Array<{ name: string; table: string }> = [];
export async function failWith(name: string, table: string, timing: string, when: string): Promise<void> {
  await sql(
    `CREATE OR REPLACE FUNCTION dispatcher_test_fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected by dispatcher.test.ts'; END $$`,
  );
  await sql(
    `CREATE TRIGGER ${name} ${timing} ON ${table} FOR EACH ROW WHEN (${when}) EXECUTE FUNCTION dispatcher_test_fail()`,
  );
  triggers.push({ name, table });
}
export async function dropTriggers(): Promise<void> {
  for (const t of triggers.splice(0)) await sql(`DROP TRIGGER IF EXISTS ${t.name} ON ${t.table}`);
}

export interface World {
  container: Container;
  dispatcher: Dispatcher;
  gateway: ResilientSvixGateway;
  pacer: Pacer;
  metrics: Metrics;
  /** The fake clock every part reads, epoch ms. */
  at(ms: number): void;
  logs(): Array<Record<string, unknown>>;
  /** relay_dispatch_total by outcome label. */
  dispatched(): Promise<Record<string, number>>;
  shed(): Promise<Record<string, number>>;
}

const worlds: World[] = [];

/**
 * A relay built by the composition root (buildContainer, as `npm start` builds it) on the file's
 * database and emulator, with a fake clock that every part reads.
 */
export async function world(
  o: {
    batchSize?: number;
    concurrency?: number;
    intervalMs?: number;
    maxInFlight?: number;
    circuitFailureThreshold?: number;
    circuitCooldownMs?: number;
  } = {},
): Promise<World> {
  let nowMs = T0;
  const captured = captureLogs();
  const config = loadConfig({
    LOG_LEVEL: "info",
    SVIX_API_KEY: "test-key",
    SVIX_SERVER_URL: emulator.url,
    SVIX_TIMEOUT_MS: "10000",
    REQUEST_BUDGET_MS: "10000",
    SVIX_MAX_RETRIES: "0",
    SVIX_MAX_IN_FLIGHT: String(o.maxInFlight ?? 10),
    CIRCUIT_FAILURE_THRESHOLD: String(o.circuitFailureThreshold ?? 1000),
    CIRCUIT_COOLDOWN_MS: String(o.circuitCooldownMs ?? 5000),
    CLAIM_TTL_MS: String(CLAIM_TTL),
    DISPATCH_ENABLED: "false",
    DISPATCH_INTERVAL_MS: String(o.intervalMs ?? HOUR),
    DISPATCH_BATCH_SIZE: String(o.batchSize ?? 10),
    DISPATCH_CONCURRENCY: String(o.concurrency ?? 1),
    EVENT_TYPE_CATALOG: "false",
    OPEN_API: "true",
  });
  const container = await buildContainer(config, {
    logDestination: captured.destination,
    database: database.db,
    clock: { now: () => nowMs },
  });
  // The start-up check of the Svix key is not part of any test's story.
  emulator.calls.length = 0;
  const { metrics } = container;
  const byLabel = async (counter: Metrics["dispatch"] | Metrics["shed"], label: string) =>
    Object.fromEntries((await counter.get()).values.map((v) => [String(v.labels[label as never]), v.value]));
  const w: World = {
    container,
    dispatcher: container.dispatcher,
    gateway: container.svix,
    pacer: container.pacer,
    metrics,
    at: (ms) => {
      nowMs = ms;
    },
    logs: () => captured.records,
    dispatched: () => byLabel(metrics.dispatch, "outcome"),
    shed: () => byLabel(metrics.shed, "reason"),
  };
  worlds.push(w);
  return w;
}

let arrival = 0;
/**
 * A queued notification, due at `due` (default T0). Rows arrive one second apart, in the order
 * this is called: created_at decides "oldest first".
 */
export async function queued(options: { due?: number; event?: PlatformEvent } = {}): Promise<PlatformEvent> {
  const event = options.event ?? makeEvent();
  await store.insert({
    event,
    transport: { kind: "body" },
    payloadDigest: eventDigest(event),
    status: "queued",
    nextAttemptAt: new Date(options.due ?? T0),
  });
  arrival += 1;
  const createdAt = new Date(T0 - 10 * 60_000 + arrival * 1000);
  await sql(`UPDATE notifications SET created_at = $1, updated_at = $1 WHERE event_id = $2`, [createdAt, event.id]);
  return event;
}

export const row = async (eventId: string) => (await store.summary(eventId))!;
export const sentIds = () => emulator.state.allMessages().map((m) => m.eventId);
export const messageCalls = () => emulator.calls.filter((c) => c.operation === "message.create");

/** A row given back to the queue untouched: no Svix call recorded, no failure, no error. */
export async function expectGivenBack(eventId: string, nextAttemptAt: number): Promise<void> {
  expect(await row(eventId)).toMatchObject({
    status: "queued",
    claimExpiresAt: null,
    nextAttemptAt: new Date(nextAttemptAt),
    attemptCount: 0,
    failures: 0,
    lastErrorCode: null,
  });
  expect((await database.db.prisma.notification.findUnique({ where: { eventId } }))?.claimToken).toBeNull();
}

/** Records the delays of setTimeout calls (calling through), to see the pauses the loop schedules. */
export function recordTimers(): Array<{ ms: number; timer: NodeJS.Timeout }> {
  const seen: Array<{ ms: number; timer: NodeJS.Timeout }> = [];
  const original = globalThis.setTimeout as (fn: () => void, ms?: number, ...args: unknown[]) => NodeJS.Timeout;
  vi.spyOn(globalThis, "setTimeout").mockImplementation(((fn: () => void, ms?: number, ...args: unknown[]) => {
    const timer = original(fn, ms, ...args);
    seen.push({ ms: ms ?? 0, timer });
    return timer;
  }) as typeof setTimeout);
  return seen;
}
/** The loop's pauses of about intervalMs (nothing else in the relay waits that long). */
export const pausesOf = (seen: Array<{ ms: number; timer: NodeJS.Timeout }>, intervalMs: number) =>
  seen.filter((t) => t.ms >= intervalMs * 0.5);

/** Call once at the top of a test file: a database and an emulator for the file, a clean slate after each test. */
export function useDispatcherWorld(): void {
  beforeAll(async () => {
    database = await createTestDatabase();
    store = new NotificationStore({ prisma: database.db.prisma, sql: database.db.sql });
    emulator = new SvixEmulator({ apiKey: "test-key" });
    await emulator.start();
  });
  afterAll(async () => {
    await emulator?.stop();
    await database?.drop();
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    for (const w of worlds.splice(0)) {
      await w.dispatcher.stop();
      await w.container.close();
    }
    await dropTriggers();
    await database.db.prisma.deliveryAttempt.deleteMany();
    await database.db.prisma.notification.deleteMany();
    emulator.reset();
  });
}
