// overload: Svix slow (300 ms a message) and far more concurrent requests than the relay lets
// through to Svix. The relay should keep its memory bounded, answer the excess at once (429/503,
// or take it into its queue) instead of piling up, and still be up afterwards. The forwarder
// takes the same load first, as a reference for what unbounded concurrency costs.
import { eventSource, measurePhase, type BenchContext, type PhaseResult } from "../measure.ts";
import { isShed, percentile } from "../load.ts";
import { sleep } from "../children.ts";
import { waitForDrain, type DrainResult } from "../relayQueue.ts";

export interface OverloadOptions {
  connections: number;
  duration: number;
  svixLatencyMs: number;
}

export interface OverloadSide {
  eventsPerSec: number;
  /** Requests sent, and those still without an answer when the load stopped. */
  sent: number;
  unanswered: number;
  answers: Record<string, number>;
  ok: number;
  shed: number;
  other: number;
  errors: number;
  timeouts: number;
  p50Ms: number;
  p99Ms: number;
  okP50Ms: number;
  okP99Ms: number;
  shedP50Ms: number;
  shedP99Ms: number;
  peakRssMb: number;
  cpuMsPerEvent: number;
}

export interface OverloadResult {
  svixLatencyMs: number;
  connections: number;
  relay: OverloadSide & {
    /** Process alive after the load, and GET /healthz answered 200 within 30 s of it. */
    stayedUp: boolean;
    /** How long after the load /healthz took to answer 200 (its backlog of requests first); null: not within 30 s. */
    healthzAfterSeconds: number | null;
    /** Its backlog once Svix is fast again; every acknowledged event should reach Svix. */
    drain: DrainResult;
    svixMessagesAfterDrain: number;
    svixDuplicates: number;
  };
  forwarder: OverloadSide;
  phases: PhaseResult[];
}

function side(r: PhaseResult): OverloadSide {
  const count = (pick: (status: number) => boolean) =>
    Object.entries(r.answers).reduce((sum, [status, n]) => sum + (pick(Number(status)) ? n : 0), 0);
  const answered = Object.values(r.answers).reduce((a, b) => a + b, 0);
  return {
    eventsPerSec: r.eventsPerSec,
    sent: r.sent,
    unanswered: r.sent - answered,
    answers: r.answers,
    ok: count((s) => s >= 200 && s < 300),
    shed: count(isShed),
    other: count((s) => !(s >= 200 && s < 300) && !isShed(s)),
    errors: r.errors,
    timeouts: r.timeouts,
    p50Ms: r.p50Ms,
    p99Ms: r.p99Ms,
    okP50Ms: percentile(r.latencies.ok, 50),
    okP99Ms: percentile(r.latencies.ok, 99),
    shedP50Ms: percentile(r.latencies.shed, 50),
    shedP99Ms: percentile(r.latencies.shed, 99),
    peakRssMb: r.peakRssMb,
    cpuMsPerEvent: r.cpuMsPerEvent.service,
  };
}

/** Polls /healthz until it answers 200; the seconds that took, null when it did not within `maxMs`. */
async function secondsUntilHealthy(relayUrl: string, maxMs: number): Promise<number | null> {
  const started = Date.now();
  while (Date.now() - started < maxMs) {
    const ok = await fetch(`${relayUrl}/healthz`, { signal: AbortSignal.timeout(2000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return (Date.now() - started) / 1000;
    await sleep(250);
  }
  return null;
}

export async function runOverload(ctx: BenchContext, o: OverloadOptions): Promise<OverloadResult> {
  ctx.say(
    `overload: Svix latency ${o.svixLatencyMs} ms, ${o.connections} connections for ${o.duration} s per service\n`,
  );
  await waitForDrain(ctx.relay.url, 60_000);
  const nextEvent = eventSource(ctx, (n) => `bench-overload-${n % 10}`);
  const spec = {
    label: "overload",
    connections: o.connections,
    duration: o.duration,
    nextEvent,
    prepare: () => ctx.emulator.setLatency(o.svixLatencyMs),
  };
  const forwarderPhase = await measurePhase(ctx, ctx.forwarder, spec);
  const relayPhase = await measurePhase(ctx, ctx.relay, spec);
  const alive = ctx.relay.child.alive();
  const healthzAfterSeconds = alive ? await secondsUntilHealthy(ctx.relay.url, 30_000) : null;
  const stayedUp = alive && healthzAfterSeconds !== null;
  // Svix fast again: what the relay queued must now reach it, once.
  await ctx.emulator.clearFaults();
  const drain = stayedUp ? await waitForDrain(ctx.relay.url, 180_000) : { drained: false, seconds: 0, left: undefined };
  const after = await ctx.emulator.settle(500, 15_000);
  ctx.say(
    `  relay     up afterwards: ${stayedUp ? `yes, /healthz 200 after ${healthzAfterSeconds!.toFixed(1)} s` : alive ? "alive, but /healthz not 200 within 30 s" : "NO, exited"}; backlog drained: ${drain.drained ?? "unknown"} in ${drain.seconds.toFixed(1)} s; ` +
      `Svix holds ${after.count} messages for ${relayPhase.acked} acknowledged events, ${after.duplicates.length} duplicated\n`,
  );
  return {
    svixLatencyMs: o.svixLatencyMs,
    connections: o.connections,
    relay: {
      ...side(relayPhase),
      stayedUp,
      healthzAfterSeconds,
      drain,
      svixMessagesAfterDrain: after.count,
      svixDuplicates: after.duplicates.length,
    },
    forwarder: side(forwarderPhase),
    phases: [forwarderPhase, relayPhase],
  };
}
