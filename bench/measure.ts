// One measured phase: a clean emulator, load on one service, then what it cost (CPU of every
// process involved) and what Svix actually received. Phases are pooled per label afterwards.
import { loadavg } from "node:os";
import { sleep, type Child } from "./children.ts";
import type { EmulatorControl } from "./emulatorControl.ts";
import { percentile, runLoad, type BenchEvent, type LoadSpec } from "./load.ts";
import { counterDiff, type PgCounters, type PgStats } from "./pgStats.ts";
import { CpuMeter, ProcessGroupMeter, sampleRss, ThreadMeter } from "./procStats.ts";

export interface Service {
  /** relay, forwarder, or a variant of the relay (relay-untraced, relay-traced). */
  name: string;
  url: string;
  child: Child;
}

export interface BenchContext {
  emulator: EmulatorControl;
  emulatorChild: Child;
  relay: Service;
  forwarder: Service;
  /** Name of the relay's PostgreSQL database, to find its backends; absent for PGlite (in-process). */
  databaseName?: string;
  /** The server's and that database's counters (PostgreSQL only). */
  pgStats?: PgStats;
  /** A new event id, never used before in this run. */
  newEventId(): string;
  say(line: string): void;
}

export interface PhaseResult {
  service: Service["name"];
  label: string;
  /** Wall-clock ms (Date.now()) when the load started and when the phase's measurements ended. */
  startedAt: number;
  endedAt: number;
  seconds: number;
  sent: number;
  acked: number;
  eventsPerSec: number;
  answers: Record<string, number>;
  errors: number;
  timeouts: number;
  p50Ms: number;
  p99Ms: number;
  /** Messages in the emulator once its count stopped growing. */
  svixMessages: number;
  svixDuplicates: number;
  /** Every request carried an event id of its own. */
  distinctIds: boolean;
  /**
   * CPU ms per event handled, by process: the service, the emulator, the load generator, the
   * PostgreSQL backends serving the relay's database, and every process of the PostgreSQL server
   * (backends of other databases on a shared machine included: compare with the forwarder's).
   */
  cpuMsPerEvent: CpuSplit;
  cpuMs: CpuSplit;
  /** PostgreSQL's counters over the phase (WAL server-wide), when the relay runs on PostgreSQL. */
  pg?: PgCounters;
  /** Events handled: what reached Svix, at least what was acknowledged. */
  handled: number;
  /** With `deliveryWaitMs`: when every acknowledged event was in Svix, and whether exactly once. */
  delivery?: DeliveryCheck;
  /** The service's CPU ms by thread name: event loop ("MainThread") vs GC, libuv pool… */
  serviceThreadsCpuMs: Record<string, number>;
  peakRssMb: number;
  /** The machine's 1-minute load average when the phase ended: how contended it ran. */
  loadAverage: number;
  /** Raw answer times, for pooling; left out of the JSON. */
  latencies: { all: number[]; ok: number[]; shed: number[] };
}

export interface CpuSplit {
  service: number;
  emulator: number;
  loadGenerator: number;
  database: number;
  postgresServer: number;
}

export interface DeliveryCheck {
  /** Seconds from the load's end (or `afterLoad`'s) until Svix held every acknowledged event; null: not within the wait. */
  seconds: number | null;
  acked: number;
  /** Acknowledged events Svix did not hold at the end. */
  missing: number;
  /** Acknowledged events Svix held more than once. */
  duplicated: number;
}

export interface PhaseSpec extends Omit<LoadSpec, "url"> {
  label: string;
  /** Runs after the emulator's reset, before the load: faults for this phase. */
  prepare?: () => Promise<void>;
  /**
   * Runs as soon as the load ends (the end of an outage); the delivery clock starts at the
   * moment (Date.now()) it returns, or when it finishes.
   */
  afterLoad?: () => Promise<number | undefined>;
  /** Poll Svix (every 250 ms) until it holds every acknowledged event, at most this long. */
  deliveryWaitMs?: number;
}

/** Polls the emulator until it holds every id of `acked`: seconds since `from`, or null after `maxMs`. */
async function secondsUntilAllInSvix(
  ctx: BenchContext,
  acked: ReadonlySet<string>,
  from: number,
  maxMs: number,
): Promise<number | null> {
  for (;;) {
    const messages = await ctx.emulator.messages();
    const at = Date.now();
    if (messages.count >= acked.size) {
      const held = new Set(messages.data.map((m) => m.eventId));
      let all = true;
      for (const id of acked) {
        if (held.has(id)) continue;
        all = false;
        break;
      }
      if (all) return (at - from) / 1000;
    }
    if (at - from > maxMs) return null;
    await sleep(250);
  }
}

/** Fails the run when a process under test is gone: its numbers would be connection errors. */
function assertAlive(ctx: BenchContext, when: string): void {
  for (const child of [ctx.relay.child, ctx.forwarder.child, ctx.emulatorChild]) {
    if (child.alive()) continue;
    const how = child.proc.exitCode ?? child.proc.signalCode;
    // The relay exits 0 on SIGTERM/SIGINT: an exit 0 here means something else stopped it.
    throw new Error(
      `${child.name} exited (${how}) ${when}${how === 0 ? ": it was sent SIGTERM or SIGINT from outside the benchmark" : ""}; last output:\n${child.tail()}`,
    );
  }
}

export async function measurePhase(ctx: BenchContext, service: Service, spec: PhaseSpec): Promise<PhaseResult> {
  assertAlive(ctx, `before the ${spec.label} phase of the ${service.name}`);
  // Each phase starts from an empty emulator: its counts are this phase's, and the emulator's
  // per-application lists (scanned on each message.create) do not grow from phase to phase.
  await ctx.emulator.reset();
  await spec.prepare?.();
  const cpu = new CpuMeter({ service: service.child.pid, emulator: ctx.emulatorChild.pid, loadGenerator: process.pid });
  const threads = new ThreadMeter(service.child.pid);
  // The relay's PostgreSQL backends (by their process title); the forwarder has none, so 0.
  const database = ctx.databaseName ? new ProcessGroupMeter(` ${ctx.databaseName} `) : undefined;
  const server = ctx.databaseName ? new ProcessGroupMeter("postgres", true) : undefined;
  const pgBefore = await ctx.pgStats?.read();
  const rss = sampleRss(service.child.pid);
  const startedAt = Date.now();
  const load = await runLoad({ ...spec, url: service.url });
  assertAlive(ctx, `during the ${spec.label} phase of the ${service.name}`);
  const loadEndedAt = (await spec.afterLoad?.()) ?? Date.now();
  const deliveredAfter =
    spec.deliveryWaitMs === undefined
      ? undefined
      : await secondsUntilAllInSvix(ctx, load.acked, loadEndedAt, spec.deliveryWaitMs);
  const svix = await ctx.emulator.settle();
  const cpuMs: CpuSplit = {
    ...(cpu.read() as Omit<CpuSplit, "database" | "postgresServer">),
    database: database?.read() ?? Number.NaN,
    postgresServer: server?.read() ?? Number.NaN,
  };
  const pg = counterDiff(await ctx.pgStats?.read(), pgBefore);
  const serviceThreadsCpuMs = threads.read();
  const memory = rss.stop();
  let delivery: DeliveryCheck | undefined;
  if (deliveredAfter !== undefined) {
    const held = new Set(svix.data.map((m) => m.eventId));
    let missing = 0;
    for (const id of load.acked) if (!held.has(id)) missing += 1;
    const duplicated = svix.duplicates.filter((d) => load.acked.has(d.eventId)).length;
    delivery = { seconds: deliveredAfter, acked: load.acked.size, missing, duplicated };
  }
  // Events the service handled: what reached Svix, which includes the requests cut off when the
  // load stopped, and at least what it acknowledged.
  const handled = Math.max(svix.count, load.acked.size) || Number.NaN;
  const perEvent = (ms: number) => ms / handled;
  const result: PhaseResult = {
    service: service.name,
    label: spec.label,
    startedAt,
    endedAt: Date.now(),
    seconds: load.seconds,
    sent: load.sent.length,
    acked: load.acked.size,
    eventsPerSec: load.acked.size / load.seconds,
    answers: load.answers,
    errors: load.errors,
    timeouts: load.timeouts,
    p50Ms: percentile(load.latency.all, 50),
    p99Ms: percentile(load.latency.all, 99),
    svixMessages: svix.count,
    svixDuplicates: svix.duplicates.length,
    distinctIds: new Set(load.sent).size === load.sent.length,
    cpuMsPerEvent: {
      service: perEvent(cpuMs.service),
      emulator: perEvent(cpuMs.emulator),
      loadGenerator: perEvent(cpuMs.loadGenerator),
      database: perEvent(cpuMs.database),
      postgresServer: perEvent(cpuMs.postgresServer),
    },
    cpuMs,
    ...(pg ? { pg } : {}),
    handled,
    ...(delivery ? { delivery } : {}),
    serviceThreadsCpuMs,
    peakRssMb: memory.peakMb,
    loadAverage: loadavg()[0]!,
    latencies: load.latency,
  };
  ctx.say(
    `  ${service.name.padEnd(9)} ${spec.label.padEnd(14)} ${result.eventsPerSec.toFixed(0).padStart(5)} ev/s  p50 ${result.p50Ms.toFixed(1)} ms  p99 ${result.p99Ms.toFixed(1)} ms  ` +
      `cpu ${result.cpuMsPerEvent.service.toFixed(3)} ms/ev  answers ${JSON.stringify(result.answers)}  svix ${svix.count}  load ${result.loadAverage.toFixed(1)}` +
      (delivery
        ? `  all acked in Svix ${delivery.seconds === null ? "NOT" : `${delivery.seconds.toFixed(2)} s`} after the load (missing ${delivery.missing}, duplicated ${delivery.duplicated})`
        : "") +
      "\n",
  );
  return result;
}

export interface Pooled {
  service: string;
  label: string;
  phases: number;
  eventsPerSec: number;
  /** Each phase's events/s, to show the spread between rounds. */
  perPhaseEventsPerSec: number[];
  p50Ms: number;
  p99Ms: number;
  cpuMsPerEvent: CpuSplit;
  /** PostgreSQL's counters per event (WAL server-wide); absent without PostgreSQL. */
  pgPerEvent?: PgCounters;
  /** The same counters per second of the phases (load, then waiting for Svix): others' rate, in the forwarder's. */
  pgPerSecond?: PgCounters;
  /** Seconds from each phase's start to the end of its measurements, summed. */
  wallSeconds: number;
  /** Events handled, summed. */
  handled: number;
  /** The service's CPU ms per event by thread name. */
  threadsCpuMsPerEvent: Record<string, number>;
  answers: Record<string, number>;
  svixDuplicates: number;
  distinctIds: boolean;
}

/** All phases of one service and label as one: total events over total time, pooled latencies. */
export function pool(results: readonly PhaseResult[], service: string, label: string): Pooled {
  const mine = results.filter((r) => r.service === service && r.label === label);
  const sum = (f: (r: PhaseResult) => number) => mine.reduce((s, r) => s + f(r), 0);
  const handled = sum((r) => Math.max(r.svixMessages, r.acked));
  const wallSeconds = sum((r) => (r.endedAt - r.startedAt) / 1000);
  const answers: Record<string, number> = {};
  for (const r of mine) for (const [k, n] of Object.entries(r.answers)) answers[k] = (answers[k] ?? 0) + n;
  const all = mine.flatMap((r) => r.latencies.all);
  const threadsCpuMsPerEvent: Record<string, number> = {};
  for (const r of mine)
    for (const [name, ms] of Object.entries(r.serviceThreadsCpuMs))
      threadsCpuMsPerEvent[name] = (threadsCpuMsPerEvent[name] ?? 0) + ms / handled;
  return {
    service,
    label,
    phases: mine.length,
    eventsPerSec: sum((r) => r.acked) / sum((r) => r.seconds),
    perPhaseEventsPerSec: mine.map((r) => r.eventsPerSec),
    p50Ms: percentile(all, 50),
    p99Ms: percentile(all, 99),
    cpuMsPerEvent: {
      service: sum((r) => r.cpuMs.service) / handled,
      emulator: sum((r) => r.cpuMs.emulator) / handled,
      loadGenerator: sum((r) => r.cpuMs.loadGenerator) / handled,
      database: sum((r) => r.cpuMs.database) / handled,
      postgresServer: sum((r) => r.cpuMs.postgresServer) / handled,
    },
    ...(mine.every((r) => r.pg) && mine.length > 0
      ? {
          pgPerEvent: Object.fromEntries(
            Object.keys(mine[0]!.pg!).map((k) => [k, sum((r) => r.pg![k as keyof PgCounters]) / handled]),
          ) as unknown as PgCounters,
          pgPerSecond: Object.fromEntries(
            Object.keys(mine[0]!.pg!).map((k) => [k, sum((r) => r.pg![k as keyof PgCounters]) / wallSeconds]),
          ) as unknown as PgCounters,
        }
      : {}),
    wallSeconds,
    handled,
    threadsCpuMsPerEvent,
    answers,
    svixDuplicates: sum((r) => r.svixDuplicates),
    distinctIds: mine.every((r) => r.distinctIds),
  };
}

/** A phase result without its raw latencies, for the JSON file. */
export function phaseForJson(r: PhaseResult): Omit<PhaseResult, "latencies"> {
  const { latencies: _latencies, ...rest } = r;
  return rest;
}

/** Unmeasured load on both services first: JIT, connection pools and caches are warm for every scenario. */
export async function warmUp(
  ctx: BenchContext,
  seconds: number,
  connections: number,
  more: readonly Service[] = [],
): Promise<void> {
  if (seconds <= 0) return;
  ctx.say(`warm-up: ${seconds} s per service, not counted\n`);
  const nextEvent = eventSource(ctx, (n) => `bench-warmup-${n % 10}`);
  for (const service of [ctx.forwarder, ctx.relay, ...more])
    await measurePhase(ctx, service, { label: "warm-up", connections, duration: seconds, nextEvent });
}

/** Events numbered in a run-wide sequence, spread over `projects` projects. */
export function eventSource(ctx: BenchContext, project: (n: number) => string): () => BenchEvent {
  let n = 0;
  return () => ({ id: ctx.newEventId(), project: project(n++) });
}
