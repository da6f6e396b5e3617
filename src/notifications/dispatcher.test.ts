import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { makeEvent } from "../../test/helpers/events.ts";
import { createTestDatabase, type TestDatabase } from "../../test/helpers/testDatabase.ts";
import { waitFor, waitForValue } from "../../test/helpers/waitFor.ts";
import { NotificationStore } from "../db/notificationStore.ts";
import { SvixEmulator } from "../emulator/svixEmulator.ts";
import { createMetrics, type Metrics } from "../observability/metrics.ts";
import { Pacer } from "../svix/pacer.ts";
import { ResilientSvixGateway } from "../svix/resilientGateway.ts";
import { SdkSvixGateway } from "../svix/svixGateway.ts";
import { Dispatcher } from "./dispatcher.ts";
import type { PlatformEvent } from "./event.ts";
import { eventDigest } from "./eventDigest.ts";
import { NotificationService } from "./notificationService.ts";
import { captureLogs } from "../../test/helpers/capturedLogs.ts";

// The dispatcher as the container wires it (src/container.ts): the real ledger on a real
// database, the real NotificationService, the real resilient gateway and SDK client talking over
// HTTP to the Svix emulator, real metrics and logger. Only time is ours: the dispatcher, the
// service, the gateway and its pacer read one fake clock, so the claim, backoff and release
// times they compute are exact.

const T0 = Date.parse("2026-11-30T12:00:00.000Z");
const HOUR = 3_600_000;
const CLAIM_TTL = 30_000;

let database: TestDatabase;
let store: NotificationStore;
let emulator: SvixEmulator;

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

const sql = (text: string, params: unknown[] = []) => database.db.sql.query(text, params);

/** Database faults injected with triggers (a real failure of a real statement); dropped after each test. */
const triggers: Array<{ name: string; table: string }> = [];
async function failWith(name: string, table: string, timing: string, when: string): Promise<void> {
  await sql(`CREATE OR REPLACE FUNCTION dispatcher_test_fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected by dispatcher.test.ts'; END $$`);
  await sql(`CREATE TRIGGER ${name} ${timing} ON ${table} FOR EACH ROW WHEN (${when}) EXECUTE FUNCTION dispatcher_test_fail()`);
  triggers.push({ name, table });
}
async function dropTriggers(): Promise<void> {
  for (const t of triggers.splice(0)) await sql(`DROP TRIGGER IF EXISTS ${t.name} ON ${t.table}`);
}

interface World {
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

function world(o: { batchSize?: number; concurrency?: number; intervalMs?: number; maxInFlight?: number; circuitFailureThreshold?: number; circuitCooldownMs?: number } = {}): World {
  let nowMs = T0;
  const clock = { now: () => new Date(nowMs) };
  const metrics = createMetrics();
  const { logger, records } = captureLogs();
  const pacer = new Pacer({ now: () => nowMs });
  let dispatcher: Dispatcher | undefined;
  const gateway = new ResilientSvixGateway({
    inner: new SdkSvixGateway({ apiKey: "test-key", serverUrl: emulator.url, requestTimeoutMs: 10_000, metrics }),
    logger,
    metrics,
    maxRetries: 0,
    maxInFlight: o.maxInFlight ?? 10,
    circuitFailureThreshold: o.circuitFailureThreshold ?? 1000,
    circuitCooldownMs: o.circuitCooldownMs ?? 5000,
    now: () => nowMs,
    pacer,
    onRecovered: () => dispatcher?.wake(),
  });
  const service = new NotificationService({
    ledger: store,
    svix: gateway,
    logger,
    metrics,
    clock,
    requestBudgetMs: 10_000,
    claimTtlMs: CLAIM_TTL,
    inFlightWaitMs: 1000,
    retryBaseDelayMs: 1000,
    retryMaxDelayMs: 600_000,
    retryHorizonMs: 72 * HOUR,
  });
  dispatcher = new Dispatcher({
    service,
    ledger: store,
    svix: gateway,
    logger,
    metrics,
    clock,
    intervalMs: o.intervalMs ?? HOUR,
    batchSize: o.batchSize ?? 10,
    concurrency: o.concurrency ?? 1,
    claimTtlMs: CLAIM_TTL,
  });
  const byLabel = async (counter: Metrics["dispatch"] | Metrics["shed"], label: string) =>
    Object.fromEntries((await counter.get()).values.map((v) => [String(v.labels[label as never]), v.value]));
  const w: World = {
    dispatcher,
    gateway,
    pacer,
    metrics,
    at: (ms) => void (nowMs = ms),
    logs: () => records,
    dispatched: () => byLabel(metrics.dispatch, "outcome"),
    shed: () => byLabel(metrics.shed, "reason"),
  };
  worlds.push(w);
  return w;
}

afterEach(async () => {
  vi.restoreAllMocks();
  for (const w of worlds.splice(0)) await w.dispatcher.stop();
  await dropTriggers();
  await database.db.prisma.deliveryAttempt.deleteMany();
  await database.db.prisma.notification.deleteMany();
  emulator.reset();
});

let arrival = 0;
/**
 * A queued notification, due at `due` (default T0). Rows arrive one second apart, in the order
 * this is called: created_at decides "oldest first".
 */
async function queued(options: { due?: number; event?: PlatformEvent } = {}): Promise<PlatformEvent> {
  const event = options.event ?? makeEvent();
  await store.insert({ event, transport: { kind: "body" }, payloadDigest: eventDigest(event), status: "queued", nextAttemptAt: new Date(options.due ?? T0) });
  arrival += 1;
  const createdAt = new Date(T0 - 10 * 60_000 + arrival * 1000);
  await sql(`UPDATE notifications SET created_at = $1, updated_at = $1 WHERE event_id = $2`, [createdAt, event.id]);
  return event;
}

const row = async (eventId: string) => (await store.summary(eventId))!;
const sentIds = () => emulator.state.allMessages().map((m) => m.eventId);
const messageCalls = () => emulator.calls.filter((c) => c.operation === "message.create");

/** A row given back to the queue untouched: no Svix call recorded, no failure, no error. */
async function expectGivenBack(eventId: string, nextAttemptAt: number): Promise<void> {
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
function recordTimers(): Array<{ ms: number; timer: NodeJS.Timeout }> {
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
const pausesOf = (seen: Array<{ ms: number; timer: NodeJS.Timeout }>, intervalMs: number) => seen.filter((t) => t.ms >= intervalMs * 0.5);

describe("Dispatcher.pass", () => {
  it("claims the due notifications oldest first, sends each once, in that order, and reports what it claimed and delivered", async () => {
    const w = world();
    const [a, b, c] = [await queued(), await queued(), await queued()];
    const later = await queued({ due: T0 + 60_000 });
    expect(await w.dispatcher.pass()).toEqual({ claimed: 3, delivered: 3 });
    expect(sentIds()).toEqual([a.id, b.id, c.id]);
    for (const e of [a, b, c]) {
      expect(await row(e.id)).toMatchObject({ status: "delivered", attemptCount: 1, claimExpiresAt: null });
      expect((await store.attemptsOf(e.id)).map((x) => `${x.trigger}:${x.outcome}`)).toEqual(["dispatch:delivered"]);
    }
    // Not due yet: not claimed.
    expect(await row(later.id)).toMatchObject({ status: "queued", nextAttemptAt: new Date(T0 + 60_000), attemptCount: 0 });
    expect(await w.dispatched()).toEqual({ delivered: 3 });
  });

  it("counts as delivered only what Svix took: a row Svix rejects is claimed, recorded rejected and counted by its outcome", async () => {
    const w = world();
    emulator.faults.add({ kind: "status", status: 400, operation: "message.create", times: 1 });
    const [rejected, taken] = [await queued(), await queued()];
    expect(await w.dispatcher.pass()).toEqual({ claimed: 2, delivered: 1 });
    expect((await row(rejected.id)).status).toBe("rejected");
    expect((await row(taken.id)).status).toBe("delivered");
    expect(await w.dispatched()).toEqual({ rejected: 1, delivered: 1 });
  });

  it("claims nothing while Svix is blocked (Retry-After window or open circuit), though rows are due", async () => {
    const w = world();
    emulator.faults.add({ kind: "status", status: 429, retryAfter: "30", operation: "message.create", times: 1 });
    await queued();
    await w.dispatcher.pass();
    const due = await queued();
    const calls = emulator.calls.length;
    w.at(T0 + 29_999);
    expect(await w.dispatcher.pass()).toEqual({ claimed: 0, delivered: 0 });
    expect(emulator.calls.length).toBe(calls);
    expect(await row(due.id)).toMatchObject({ status: "queued", nextAttemptAt: new Date(T0), attemptCount: 0 });
  });

  it("when Svix asks to wait mid-pass (429, Retry-After 30 s), gives the rest back untouched, due exactly when the window ends", async () => {
    const w = world();
    emulator.faults.add({ kind: "status", status: 429, retryAfter: "30", operation: "message.create", times: 1 });
    const [a, b, c] = [await queued(), await queued(), await queued()];
    expect(await w.dispatcher.pass()).toEqual({ claimed: 3, delivered: 0 });
    // One call: the one Svix answered 429. The others were not tried.
    expect(messageCalls().map((x) => x.status)).toEqual([429]);
    expect(await row(a.id)).toMatchObject({ status: "queued", lastErrorCode: "svix_rate_limited", nextAttemptAt: new Date(T0 + 30_000), attemptCount: 1 });
    await expectGivenBack(b.id, T0 + 30_000);
    await expectGivenBack(c.id, T0 + 30_000);
    // Only the one delivery that was made is counted.
    expect(await w.dispatched()).toEqual({ queued: 1 });
    expect(await w.shed()).toEqual({});
    // When the window has passed, all three go, oldest first.
    w.at(T0 + 30_000);
    expect(await w.dispatcher.pass()).toEqual({ claimed: 3, delivered: 3 });
    expect(sentIds()).toEqual([a.id, b.id, c.id]);
  });

  it("a pass made once stop() was called gives back every row it claimed, unsent and untouched, due at once", async () => {
    const w = world();
    // Neither does anything on a dispatcher that never started.
    w.dispatcher.wake();
    await w.dispatcher.stop();
    const [a, b] = [await queued(), await queued()];
    w.at(T0 + 5000);
    expect(await w.dispatcher.pass()).toEqual({ claimed: 2, delivered: 0 });
    expect(emulator.calls).toHaveLength(0);
    await expectGivenBack(a.id, T0 + 5000);
    await expectGivenBack(b.id, T0 + 5000);
    expect(await w.dispatched()).toEqual({});
  });

  it("while the circuit is half-open claims a single notification, the oldest, as the probe; the rest once it succeeded", async () => {
    const w = world({ circuitFailureThreshold: 1, circuitCooldownMs: 5000 });
    emulator.faults.add({ kind: "status", status: 503, operation: "message.create", times: 1 });
    const first = await queued();
    expect(await w.dispatcher.pass()).toEqual({ claimed: 1, delivered: 0 });
    // The failure opened the circuit for 5 s; the row is due when it may probe.
    expect(await row(first.id)).toMatchObject({ status: "queued", lastErrorCode: "svix_unavailable", nextAttemptAt: new Date(T0 + 5000), failures: 1 });
    const [b, c] = [await queued(), await queued()];
    w.at(T0 + 4999);
    expect(await w.dispatcher.pass()).toEqual({ claimed: 0, delivered: 0 });
    w.at(T0 + 5000);
    expect(w.gateway.probing()).toBe(true);
    expect(await w.dispatcher.pass()).toEqual({ claimed: 1, delivered: 1 });
    expect(sentIds()).toEqual([first.id]);
    await expectGivenBack(b.id, T0);
    await expectGivenBack(c.id, T0);
    expect(w.gateway.probing()).toBe(false);
    expect(await w.dispatcher.pass()).toEqual({ claimed: 2, delivered: 2 });
    expect(sentIds()).toEqual([first.id, b.id, c.id]);
  });

  it("once Svix answers again, claims what was last tried before the recovery whatever its backoff, but not what was queued after", async () => {
    const w = world({ circuitFailureThreshold: 1, circuitCooldownMs: 5000 });
    emulator.faults.add({ kind: "status", status: 503, operation: "message.create", times: 1 });
    await queued();
    await w.dispatcher.pass();
    w.at(T0 + 5000);
    expect(await w.dispatcher.pass()).toEqual({ claimed: 1, delivered: 1 });
    const recovered = T0 + 5000;
    expect(w.gateway.recoveredAt()).toBe(recovered);
    // Both backed off for an hour; one was last touched before Svix came back, one after.
    const before = await queued({ due: recovered + HOUR });
    const after = await queued({ due: recovered + HOUR });
    await sql(`UPDATE notifications SET updated_at = $1 WHERE event_id = $2`, [new Date(recovered - 1), before.id]);
    await sql(`UPDATE notifications SET updated_at = $1 WHERE event_id = $2`, [new Date(recovered + 1), after.id]);
    expect(await w.dispatcher.pass()).toEqual({ claimed: 1, delivered: 1 });
    expect((await row(before.id)).status).toBe("delivered");
    expect(await row(after.id)).toMatchObject({ status: "queued", nextAttemptAt: new Date(recovered + HOUR), attemptCount: 0 });
  });

  it("paced by Svix's learned rate limit: waits for each booked slot up to 2 s (so Svix's limit is never hit) and gives back a row whose slot is further away", async () => {
    const w = world({ concurrency: 1 });
    // Svix allows one message per second; the pacer learned that (one call answered, then a 429).
    emulator.faults.setRateLimit({ perSecond: 1, operation: "message.create" });
    w.pacer.answeredCall();
    w.pacer.throttled();
    expect(w.pacer.ratePerSecond).toBe(1);
    const [a, b, c] = [await queued(), await queued(), await queued()];
    // The clock stands still: the three slots booked are 1 s, 2 s and 3 s away.
    expect(await w.dispatcher.pass()).toEqual({ claimed: 3, delivered: 2 });
    expect(sentIds()).toEqual([a.id, b.id]);
    // Svix never had to refuse a call: each went at its slot, no sooner.
    expect(messageCalls().map((x) => x.status)).toEqual([202, 202]);
    // 3 s away (more than 2 s): back to the queue untouched, due at once (no Retry-After window).
    await expectGivenBack(c.id, T0);
    expect(await w.dispatched()).toEqual({ delivered: 2 });
    // The booked slot is used: the call does not take another one from the pace.
    expect(await w.shed()).toEqual({});
  });

  // Found by this file: a row given back used to keep its booking, and the unused bookings piled
  // up as pace debt (later passes sent nothing, the fast path queued everything, and with a
  // backlog the loop claimed and released without pause, booking more each time).
  it("a row given back because its pace slot is too far does not keep that slot booked: the pace does not fall further behind with every pass", async () => {
    const w = world({ batchSize: 10, concurrency: 1 });
    // One call per second learned a second ago: one token saved up at T0.
    w.at(T0 - 1000);
    w.pacer.answeredCall();
    w.pacer.throttled();
    w.at(T0);
    for (let i = 0; i < 10; i += 1) await queued();
    // Slots now, +1 s, +2 s: three sent; the other seven given back (their slots, +3 s … +9 s, are never used).
    expect(await w.dispatcher.pass()).toEqual({ claimed: 10, delivered: 3 });
    // Three seconds later, at one call per second, a call may go at once and the next pass sends again.
    w.at(T0 + 3000);
    expect(w.gateway.waitMs()).toBe(0);
    expect(await w.dispatcher.pass()).toEqual({ claimed: 7, delivered: 3 });
  });

  it("looks again after waiting for its pace slot: a row is given back, unsent, when the instance began stopping meanwhile", async () => {
    const w = world({ concurrency: 1 });
    w.pacer.answeredCall();
    w.pacer.throttled();
    // A slot booked by someone else: a's is 2 s away (it waits, in real time), b's 3 s (given back at once).
    expect(w.pacer.reserve()).toBe(1000);
    const [a, b] = [await queued(), await queued()];
    const passing = w.dispatcher.pass();
    // stop() comes while a waits: once a has booked its slot (the next free one is then 3 s away).
    await waitFor(() => w.pacer.waitMs() >= 3000, 20_000, "a's slot booked");
    await w.dispatcher.stop();
    expect(await passing).toEqual({ claimed: 2, delivered: 0 });
    expect(sentIds()).toEqual([]);
    await expectGivenBack(a.id, T0);
    await expectGivenBack(b.id, T0);
  });

  it("never has more deliveries in flight than `concurrency`: none is shed by a Svix bulkhead of that size", async () => {
    const w = world({ concurrency: 2, maxInFlight: 2 });
    const events = [await queued(), await queued(), await queued()];
    expect(await w.dispatcher.pass()).toEqual({ claimed: 3, delivered: 3 });
    expect(await w.shed()).toEqual({});
    expect(new Set(sentIds())).toEqual(new Set(events.map((e) => e.id)));
  });

  it("when the ledger cannot record an outcome: counts it by the error's code, does not log it as unexpected, goes on, and leaves the claim (claimTtlMs long) to expire", async () => {
    const w = world();
    const [lost, next] = [await queued(), await queued()];
    await failWith("dispatcher_test_fail_attempts", "delivery_attempts", "BEFORE INSERT", `NEW.event_id = '${lost.id}'`);
    expect(await w.dispatcher.pass()).toEqual({ claimed: 2, delivered: 1 });
    expect(await w.dispatched()).toEqual({ database_unavailable: 1, delivered: 1 });
    expect(w.logs().filter((l) => l.message === "dispatch failed unexpectedly")).toEqual([]);
    expect((await row(next.id)).status).toBe("delivered");
    // Svix holds it, the ledger does not know: the claim the pass took stays until it expires.
    expect(sentIds()).toEqual([lost.id, next.id]);
    expect(await row(lost.id)).toMatchObject({ status: "received", claimExpiresAt: new Date(T0 + CLAIM_TTL), updatedAt: new Date(T0), attemptCount: 0 });
    await dropTriggers();
    w.at(T0 + CLAIM_TTL - 1);
    expect(await w.dispatcher.pass()).toEqual({ claimed: 0, delivered: 0 });
    w.at(T0 + CLAIM_TTL);
    expect(await w.dispatcher.pass()).toEqual({ claimed: 1, delivered: 1 });
    expect((await row(lost.id)).status).toBe("delivered");
    // Svix's idempotency key: still one message.
    expect(sentIds()).toEqual([lost.id, next.id]);
  });

  it("when a delivery fails unexpectedly (a stored payload the service cannot handle): counts it as internal, logs it with the event id, and goes on", async () => {
    const w = world();
    const [corrupt, next] = [await queued(), await queued()];
    // A project that is not a string: the service throws a TypeError before calling Svix.
    await sql(`UPDATE notifications SET payload = $1 WHERE event_id = $2`, [JSON.stringify({ ...corrupt, project: {} }), corrupt.id]);
    expect(await w.dispatcher.pass()).toEqual({ claimed: 2, delivered: 1 });
    expect(await w.dispatched()).toEqual({ internal: 1, delivered: 1 });
    const logged = w.logs().filter((l) => l.message === "dispatch failed unexpectedly");
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ level: "error", eventId: corrupt.id, err: { type: "TypeError", code: "ERR_INVALID_ARG_TYPE" } });
    expect(sentIds()).toEqual([next.id]);
    expect((await row(next.id)).status).toBe("delivered");
    // Not given back: its claim expires and a later pass tries again.
    expect(await row(corrupt.id)).toMatchObject({ status: "received", claimExpiresAt: new Date(T0 + CLAIM_TTL) });
  });

  it("never hands a claimed row without a payload to the service (no call, not counted)", async () => {
    const w = world();
    const [empty, next] = [await queued(), await queued()];
    // The column is set but holds JSON null (SQL NULL, a purged payload, is never claimed).
    await sql(`UPDATE notifications SET payload = 'null' WHERE event_id = $1`, [empty.id]);
    expect(await w.dispatcher.pass()).toEqual({ claimed: 2, delivered: 1 });
    expect(sentIds()).toEqual([next.id]);
    expect(await w.dispatched()).toEqual({ delivered: 1 });
    expect(w.logs().filter((l) => l.level === "error")).toEqual([]);
  });
});

describe("the dispatcher's loop (start, wake, stop)", () => {
  it("pauses intervalMs × (0.75 + random/2) after a pass that found less than a full batch, on a timer that does not keep the process alive", async () => {
    const seen = recordTimers();
    vi.spyOn(Math, "random").mockReturnValue(0.6);
    const w = world({ intervalMs: HOUR });
    w.dispatcher.start();
    const pause = await waitForValue(() => pausesOf(seen, HOUR)[0], "the loop's pause");
    expect(pause.ms).toBeCloseTo(HOUR * 1.05, 3);
    expect(pause.timer.hasRef()).toBe(false);
  });

  it("while Svix is blocked, sleeps exactly until it may call again, without a pass", async () => {
    const w = world({ intervalMs: HOUR });
    emulator.faults.add({ kind: "status", status: 429, retryAfter: "30", operation: "message.create", times: 1 });
    await queued();
    await w.dispatcher.pass();
    w.at(T0 + 12_000);
    const due = await queued();
    const seen = recordTimers();
    w.dispatcher.start();
    // 30 s from T0, seen at T0 + 12 s: 18 s left.
    const pause = await waitForValue(() => seen.find((t) => t.ms === 18_000), "the loop's pause until the window ends");
    expect(pause.timer.hasRef()).toBe(false);
    // Not the pause after a pass.
    expect(pausesOf(seen, HOUR)).toEqual([]);
    expect(await row(due.id)).toMatchObject({ status: "queued", attemptCount: 0 });
  });

  it("passes again at once while passes claim a full batch, and pauses once one claims less", async () => {
    const seen = recordTimers();
    const w = world({ batchSize: 2, intervalMs: HOUR });
    const events = [await queued(), await queued(), await queued(), await queued(), await queued()];
    w.dispatcher.start();
    // 2 + 2 + 1: three passes, the last one short of a batch.
    await waitFor(async () => (await database.db.prisma.notification.count({ where: { status: "delivered" } })) === 5, 20_000, "all five delivered");
    await waitFor(() => pausesOf(seen, HOUR).length > 0, 20_000, "the pause");
    expect(pausesOf(seen, HOUR)).toHaveLength(1);
    expect(sentIds()).toEqual(events.map((e) => e.id));
  });

  it("wake() ends the pause: a row queued meanwhile is delivered without waiting for the interval", async () => {
    const seen = recordTimers();
    const w = world({ intervalMs: HOUR });
    w.dispatcher.start();
    await waitFor(() => pausesOf(seen, HOUR).length > 0, 20_000, "the pause");
    const event = await queued();
    w.dispatcher.wake();
    await waitFor(async () => (await row(event.id)).status === "delivered", 20_000, "delivered after wake()");
  });

  it("stop() ends a pause at once, and start() after stop() runs the loop again", async () => {
    const seen = recordTimers();
    const w = world({ intervalMs: HOUR });
    w.dispatcher.start();
    await waitFor(() => pausesOf(seen, HOUR).length > 0, 20_000, "the pause");
    await w.dispatcher.stop();
    const event = await queued();
    w.dispatcher.start();
    await waitFor(async () => (await row(event.id)).status === "delivered", 20_000, "delivered after the restart");
  }, 30_000);

  it("stop() during a pass lets the delivery in flight finish, gives back the rest, and returns once the pass has ended", async () => {
    const w = world({ intervalMs: HOUR });
    emulator.faults.add({ kind: "latency", minMs: 2000, maxMs: 2000, operation: "message.create", times: 1 });
    const [a, b, c] = [await queued(), await queued(), await queued()];
    w.dispatcher.start();
    await waitFor(async () => (await w.metrics.svixInFlight.get()).values[0]?.value === 1, 20_000, "the first call in flight");
    await w.dispatcher.stop();
    expect((await row(a.id)).status).toBe("delivered");
    await expectGivenBack(b.id, T0);
    await expectGivenBack(c.id, T0);
    expect(sentIds()).toEqual([a.id]);
  }, 30_000);

  it("start() while running starts no second loop: no two passes deliver at once", async () => {
    // A bulkhead of one Svix call: two loops would each deliver one row at the same time.
    const w = world({ batchSize: 1, maxInFlight: 1, intervalMs: HOUR });
    emulator.faults.add({ kind: "latency", minMs: 1000, maxMs: 1000, operation: "message.create" });
    const [a, b] = [await queued(), await queued()];
    w.dispatcher.start();
    w.dispatcher.start();
    // Settled: delivered, or queued after a try (shed by the bulkhead).
    const settled = async (id: string) => {
      const r = await row(id);
      return r.status === "delivered" || r.lastErrorCode !== null;
    };
    await waitFor(async () => (await settled(a.id)) && (await settled(b.id)), 20_000, "both settled");
    expect(await w.shed()).toEqual({});
    expect((await row(a.id)).status).toBe("delivered");
    expect((await row(b.id)).status).toBe("delivered");
  }, 30_000);

  it("a pass that fails (the ledger is down) is logged as a warning with its error, and the loop carries on", async () => {
    const w = world({ intervalMs: HOUR });
    await failWith("dispatcher_test_fail_claims", "notifications", "BEFORE UPDATE", `NEW.status = 'received'`);
    const event = await queued();
    w.dispatcher.start();
    const warning = await waitForValue(() => w.logs().find((l) => l.message === "dispatcher pass failed"), "the warning");
    expect(warning).toMatchObject({ level: "warn", err: { type: "AppError", code: "database_unavailable" } });
    expect(String((warning.err as { message: string }).message)).toContain("claim due");
    await dropTriggers();
    w.dispatcher.wake();
    await waitFor(async () => (await row(event.id)).status === "delivered", 20_000, "delivered by the next pass");
  });
});
