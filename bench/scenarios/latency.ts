// latency: Svix answering every message in 100 ms (--svix-latency), 32 connections pushing
// wrapped Pub/Sub envelopes for 15 s, against the relay and the forwarder in alternating rounds.
// The relay answers a push once the ledger owns the event and calls Svix afterwards; the
// forwarder answers after Svix. Measured: pushes answered per second and their latency, and,
// for the relay, how long after the load's end Svix held every acknowledged event, and that it
// held each exactly once.
import { eventSource, measurePhase, pool, type BenchContext, type PhaseResult, type Pooled } from "../measure.ts";
import { waitForDrain } from "../relayQueue.ts";
import { median } from "./steady.ts";

export interface LatencyOptions {
  connections: number;
  duration: number;
  rounds: number;
  svixLatencyMs: number;
  /** How long to wait for every acknowledged event to be in Svix. */
  deliveryWaitMs: number;
}

export interface LatencyResult {
  svixLatencyMs: number;
  connections: number;
  duration: number;
  relay: Pooled;
  forwarder: Pooled;
  /** Relay ÷ forwarder pushes answered per second, each round, and their median. */
  perRoundRatio: number[];
  medianRatio: number;
  /** Per relay round: seconds after the load's end until Svix held every acknowledged event (null: not within the wait). */
  relayDeliverySeconds: Array<number | null>;
  /** Over the relay's rounds: acknowledged events not in Svix, and held more than once. */
  relayMissing: number;
  relayDuplicated: number;
  forwarderMissing: number;
  forwarderDuplicated: number;
  phases: PhaseResult[];
}

export async function runLatency(ctx: BenchContext, o: LatencyOptions): Promise<LatencyResult> {
  ctx.say(
    `latency: Svix answering in ${o.svixLatencyMs} ms, ${o.connections} connections pushing wrapped Pub/Sub envelopes, ${o.rounds} round(s) × ${o.duration} s per service, alternating\n`,
  );
  await waitForDrain(ctx.relay.url, 60_000);
  const spec = {
    label: "latency",
    connections: o.connections,
    duration: o.duration,
    nextEvent: eventSource(ctx, (n) => `bench-latency-${n % 10}`),
    push: true,
    prepare: () => ctx.emulator.setLatency(o.svixLatencyMs),
    deliveryWaitMs: o.deliveryWaitMs,
  };
  const phases: PhaseResult[] = [];
  const perRoundRatio: number[] = [];
  for (let round = 0; round < o.rounds; round++) {
    const order = round % 2 === 0 ? [ctx.forwarder, ctx.relay] : [ctx.relay, ctx.forwarder];
    const inRound: PhaseResult[] = [];
    for (const service of order) inRound.push(await measurePhase(ctx, service, spec));
    phases.push(...inRound);
    const rate = (name: string) => inRound.find((r) => r.service === name)!.eventsPerSec;
    perRoundRatio.push(rate("relay") / rate("forwarder"));
  }
  await ctx.emulator.clearFaults();
  const mine = (name: string) => phases.filter((p) => p.service === name);
  const total = (name: string, pick: (p: PhaseResult) => number) => mine(name).reduce((s, p) => s + pick(p), 0);
  return {
    svixLatencyMs: o.svixLatencyMs,
    connections: o.connections,
    duration: o.duration,
    relay: pool(phases, "relay", "latency"),
    forwarder: pool(phases, "forwarder", "latency"),
    perRoundRatio,
    medianRatio: median(perRoundRatio),
    relayDeliverySeconds: mine("relay").map((p) => p.delivery?.seconds ?? null),
    relayMissing: total("relay", (p) => p.delivery?.missing ?? 0),
    relayDuplicated: total("relay", (p) => p.delivery?.duplicated ?? 0),
    forwarderMissing: total("forwarder", (p) => p.delivery?.missing ?? 0),
    forwarderDuplicated: total("forwarder", (p) => p.delivery?.duplicated ?? 0),
    phases,
  };
}
