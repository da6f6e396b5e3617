// steady: a healthy Svix answering at once, fixed concurrency, distinct events. The relay's
// throughput next to the bare forwarder's, measured in alternating phases so that whatever else
// the (shared) machine does lands on both; for each event size of the mix (small, 350 bytes;
// large, 5,860 bytes; mixed: one large in four), as a median over the rounds' ratios.
import { largeEventBody, smallEventBody, type BenchEvent, type EventSize } from "../load.ts";
import { eventSource, measurePhase, pool, type BenchContext, type PhaseResult, type Pooled } from "../measure.ts";

export const STEADY_SIZES = ["small", "large", "mixed"] as const;
export type SteadySize = (typeof STEADY_SIZES)[number];

export interface SteadyOptions {
  connections: number;
  duration: number;
  rounds: number;
  sizes: readonly SteadySize[];
  /** Post wrapped Pub/Sub pushes instead of bare events. */
  push: boolean;
}

export interface SteadySizeResult {
  relay: Pooled;
  forwarder: Pooled;
  /** Relay ÷ forwarder events/s over all rounds. */
  ratio: number;
  /** The same ratio round by round, for the spread. */
  perRoundRatio: number[];
  /** The median of the rounds' ratios: the judged number. */
  medianRatio: number;
  /** Bytes of one event of this size (the bare event; a push wraps it in base64). */
  eventBytes: number;
}

export interface SteadyResult {
  push: boolean;
  sizes: Partial<Record<SteadySize, SteadySizeResult>>;
  phases: PhaseResult[];
}

/** Ten projects, as a handful of busy customers would look. */
const STEADY_PROJECTS = 10;

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function sizeOf(size: SteadySize, n: number): EventSize {
  if (size === "mixed") return n % 4 === 3 ? "large" : "small";
  return size;
}

export async function runSteady(ctx: BenchContext, o: SteadyOptions): Promise<SteadyResult> {
  ctx.say(
    `steady: ${o.connections} connections, ${o.rounds} round(s) × ${o.duration} s per service and size (${o.sizes.join(", ")}), alternating${o.push ? ", wrapped Pub/Sub pushes" : ""}\n`,
  );
  const sources = Object.fromEntries(
    o.sizes.map((size) => {
      const next = eventSource(ctx, (n) => `bench-steady-${n % STEADY_PROJECTS}`);
      let n = 0;
      return [size, (): BenchEvent => ({ ...next(), size: sizeOf(size, n++) })];
    }),
  ) as Record<SteadySize, () => BenchEvent>;
  const phases: PhaseResult[] = [];
  const perRound = Object.fromEntries(o.sizes.map((s) => [s, [] as number[]])) as Record<SteadySize, number[]>;
  for (let round = 0; round < o.rounds; round++) {
    // ABBA order: a drift in the machine's load over the run does not favour either service;
    // the sizes take turns going first.
    const order = round % 2 === 0 ? [ctx.forwarder, ctx.relay] : [ctx.relay, ctx.forwarder];
    const sizes = o.sizes.map((_, i) => o.sizes[(i + round) % o.sizes.length]!);
    for (const size of sizes) {
      const spec = {
        label: `steady-${size}`,
        connections: o.connections,
        duration: o.duration,
        nextEvent: sources[size],
        push: o.push,
      };
      const inRound: PhaseResult[] = [];
      for (const service of order) inRound.push(await measurePhase(ctx, service, spec));
      phases.push(...inRound);
      const rate = (name: string) => inRound.find((r) => r.service === name)!.eventsPerSec;
      perRound[size].push(rate("relay") / rate("forwarder"));
    }
  }
  const sample = { id: "evt_bench_00000000_0", project: "bench-steady-0" };
  const bytes = { small: smallEventBody(sample).length, large: largeEventBody(sample).length };
  const result: SteadyResult = { push: o.push, sizes: {}, phases };
  for (const size of o.sizes) {
    const relay = pool(phases, "relay", `steady-${size}`);
    const forwarder = pool(phases, "forwarder", `steady-${size}`);
    result.sizes[size] = {
      relay,
      forwarder,
      ratio: relay.eventsPerSec / forwarder.eventsPerSec,
      perRoundRatio: perRound[size],
      medianRatio: median(perRound[size]),
      eventBytes: size === "mixed" ? (3 * bytes.small + bytes.large) / 4 : bytes[size],
    };
  }
  return result;
}
