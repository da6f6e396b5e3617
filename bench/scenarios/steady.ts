// steady: a healthy Svix answering at once, fixed concurrency, distinct events. The relay's
// throughput next to the bare forwarder's, measured in alternating phases so that whatever else
// the (shared) machine does lands on both.
import { eventSource, measurePhase, pool, type BenchContext, type PhaseResult, type Pooled } from "../measure.ts";

export interface SteadyOptions {
  connections: number;
  duration: number;
  rounds: number;
}

export interface SteadyResult {
  relay: Pooled;
  forwarder: Pooled;
  /** Relay ÷ forwarder events/s over all rounds. */
  ratio: number;
  /** The same ratio round by round, for the spread. */
  perRoundRatio: number[];
  phases: PhaseResult[];
}

/** Ten projects, as a handful of busy customers would look. */
const STEADY_PROJECTS = 10;

export async function runSteady(ctx: BenchContext, o: SteadyOptions): Promise<SteadyResult> {
  ctx.say(`steady: ${o.connections} connections, ${o.rounds} × ${o.duration} s per service, alternating\n`);
  const nextEvent = eventSource(ctx, (n) => `bench-steady-${n % STEADY_PROJECTS}`);
  const spec = { label: "steady", connections: o.connections, duration: o.duration, nextEvent };
  const phases: PhaseResult[] = [];
  const perRoundRatio: number[] = [];
  for (let round = 0; round < o.rounds; round++) {
    // ABBA order: a drift in the machine's load over the run does not favour either service.
    const order = round % 2 === 0 ? [ctx.forwarder, ctx.relay] : [ctx.relay, ctx.forwarder];
    const inRound: PhaseResult[] = [];
    for (const service of order) inRound.push(await measurePhase(ctx, service, spec));
    phases.push(...inRound);
    const rate = (name: string) => inRound.find((r) => r.service === name)!.eventsPerSec;
    perRoundRatio.push(rate("relay") / rate("forwarder"));
  }
  const relay = pool(phases, "relay", "steady");
  const forwarder = pool(phases, "forwarder", "steady");
  return { relay, forwarder, ratio: relay.eventsPerSec / forwarder.eventsPerSec, perRoundRatio, phases };
}
