// tracing: the steady load on two relays, tracing off and on, alternating rounds. They are two
// more relay processes on the same database, started together and loaded alike (the main relay's
// history, the other scenarios, is in neither): one exports every span
// (OTEL_TRACES_SAMPLER=always_on) over OTLP/HTTP to a sink the benchmark runs (bench/otlpSink.ts);
// the other has no OTLP endpoint, i.e. tracing off (the API's no-op tracer).
import {
  eventSource,
  measurePhase,
  pool,
  type BenchContext,
  type PhaseResult,
  type Pooled,
  type Service,
} from "../measure.ts";
import { median } from "./steady.ts";

/** Seconds of load on each relay before the rounds. */
const TRACING_WARMUP_S = 10;

export interface TracingOptions {
  connections: number;
  /** The bench's warm-up (0: none, and none before these rounds either). */
  warmup: number;
  duration: number;
  rounds: number;
  push: boolean;
}

export interface TracingResult {
  off: Pooled;
  on: Pooled;
  /** Traced ÷ untraced events/s, round by round, and the median. */
  perRoundRatio: number[];
  medianRatio: number;
  /** What the sink received during the traced relay's phases, per event. */
  exportRequestsPerEvent: number;
  exportBytesPerEvent: number;
  phases: PhaseResult[];
}

async function sinkStats(url: string): Promise<{ requests: number; bytes: number }> {
  return (await (await fetch(`${url}/stats`, { signal: AbortSignal.timeout(5000) })).json()) as {
    requests: number;
    bytes: number;
  };
}

export async function runTracing(
  ctx: BenchContext,
  twins: { off: Service; on: Service },
  sinkUrl: string,
  o: TracingOptions,
): Promise<TracingResult> {
  ctx.say(
    `tracing: the relay with tracing off vs on (every span sampled, OTLP/HTTP to a sink), ${o.connections} connections, ${o.rounds} round(s) × ${o.duration} s each, alternating${o.push ? ", wrapped Pub/Sub pushes" : ""}\n`,
  );
  const spec = {
    label: "tracing",
    connections: o.connections,
    duration: o.duration,
    nextEvent: eventSource(ctx, (n) => `bench-tracing-${n % 10}`),
    push: o.push,
  };
  const { off, on: traced } = twins;
  // Both relays under load again just before, unmeasured, for TRACING_WARMUP_S each: after other
  // scenarios they have idled for minutes since the bench's warm-up.
  if (o.warmup > 0) {
    for (const service of [off, traced])
      await measurePhase(ctx, service, { ...spec, label: "tracing warm-up", duration: TRACING_WARMUP_S });
  }
  const phases: PhaseResult[] = [];
  const perRoundRatio: number[] = [];
  let exportRequests = 0;
  let exportBytes = 0;
  for (let round = 0; round < o.rounds; round++) {
    const order = round % 2 === 0 ? [off, traced] : [traced, off];
    const inRound: PhaseResult[] = [];
    for (const service of order) {
      const before = await sinkStats(sinkUrl);
      inRound.push(await measurePhase(ctx, service, spec));
      const after = await sinkStats(sinkUrl);
      if (service === traced) {
        exportRequests += after.requests - before.requests;
        exportBytes += after.bytes - before.bytes;
      }
    }
    phases.push(...inRound);
    const rate = (name: string) => inRound.find((r) => r.service === name)!.eventsPerSec;
    perRoundRatio.push(rate(traced.name) / rate(off.name));
  }
  const on = pool(phases, traced.name, "tracing");
  const handled = phases.filter((p) => p.service === traced.name).reduce((s, p) => s + p.handled, 0);
  return {
    off: pool(phases, off.name, "tracing"),
    on,
    perRoundRatio,
    medianRatio: median(perRoundRatio),
    exportRequestsPerEvent: exportRequests / handled,
    exportBytesPerEvent: exportBytes / handled,
    phases,
  };
}
