// tracing: the steady load on the relay with tracing off and on, alternating rounds. The traced
// relay is a second relay process on the same database, exporting every span
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
  traced: Service,
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
  // Both relays under load again just before, unmeasured, for TRACING_WARMUP_S each: after other
  // scenarios the untraced relay has been under load for minutes while the traced one sat idle
  // since its warm-up, and the first traced round then measured its heap growing back (main
  // thread 0.26 and V8's helper threads 0.06 ms an event, against 0.19–0.21 and 0.03 in the later
  // rounds of the same run; a 3 s warm-up did not end it).
  if (o.warmup > 0) {
    for (const service of [ctx.relay, traced])
      await measurePhase(ctx, service, { ...spec, label: "tracing warm-up", duration: TRACING_WARMUP_S });
  }
  const phases: PhaseResult[] = [];
  const perRoundRatio: number[] = [];
  let exportRequests = 0;
  let exportBytes = 0;
  for (let round = 0; round < o.rounds; round++) {
    const order = round % 2 === 0 ? [ctx.relay, traced] : [traced, ctx.relay];
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
    perRoundRatio.push(rate(traced.name) / rate(ctx.relay.name));
  }
  const on = pool(phases, traced.name, "tracing");
  const handled = phases.filter((p) => p.service === traced.name).reduce((s, p) => s + p.handled, 0);
  return {
    off: pool(phases, ctx.relay.name, "tracing"),
    on,
    perRoundRatio,
    medianRatio: median(perRoundRatio),
    exportRequestsPerEvent: exportRequests / handled,
    exportBytesPerEvent: exportBytes / handled,
    phases,
  };
}
