// outage: Svix answers 503 to every message for 15 s while events keep arriving (wrapped pushes
// at a steady rate); at the outage's end the 503 rule is removed and the next two calls hang
// (never answered). Measured: the time from the outage's end to the moment Svix holds every
// event the relay acknowledged, and that it holds each exactly once. The relay only: the bare
// forwarder has nowhere to keep an event while Svix fails.
import { addAnswers } from "../load.ts";
import { eventSource, measurePhase, type BenchContext, type PhaseResult } from "../measure.ts";
import { waitForDrain } from "../relayQueue.ts";

export interface OutageOptions {
  duration: number;
  /** Pushes per second during the outage. */
  rate: number;
  connections: number;
  /** How long to wait for every acknowledged event to be in Svix after the outage. */
  deliveryWaitMs: number;
}

export interface OutageResult {
  duration: number;
  rate: number;
  sent: number;
  acked: number;
  answers: Record<string, number>;
  p50Ms: number;
  p99Ms: number;
  /** Seconds from the outage's end until Svix held every acknowledged event; null: not within the wait. */
  recoverySeconds: number | null;
  missing: number;
  duplicated: number;
  /** message.create calls in the emulator's log, and those answered 503. */
  svixCalls: { total: number; unavailable: number };
  /**
   * After the outage's end, from the emulator's call log (seconds since the end): when the two
   * calls that hung arrived, when the first and the last message was created, and the calls
   * made in between (what the relay sent once Svix answered again).
   */
  afterEnd: {
    hungAt: number[];
    firstCreatedAt: number | null;
    lastCreatedAt: number | null;
    createCalls: number;
    created: number;
  };
  phases: PhaseResult[];
}

export async function runOutage(ctx: BenchContext, o: OutageOptions): Promise<OutageResult> {
  ctx.say(
    `outage: Svix answers 503 for ${o.duration} s while ${o.rate} pushes/s arrive (${o.connections} connections), then two calls hang\n`,
  );
  await waitForDrain(ctx.relay.url, 60_000);
  let ended = 0;
  const phase = await measurePhase(ctx, ctx.relay, {
    label: "outage",
    connections: o.connections,
    duration: o.duration,
    rate: o.rate,
    push: true,
    nextEvent: eventSource(ctx, (n) => `bench-outage-${n % 10}`),
    prepare: () => ctx.emulator.addFaults([{ kind: "status", status: 503, operation: "message.create" }]),
    // The outage's end, from which recovery is counted: the 503 rule goes, and the next two calls hang.
    afterLoad: async () => {
      await ctx.emulator.clearFaults();
      ended = Date.now();
      await ctx.emulator.addFaults([{ kind: "hang", operation: "message.create", times: 2 }]);
      return ended;
    },
    deliveryWaitMs: o.deliveryWaitMs,
  });
  const calls = await ctx.emulator.calls();
  const creates = calls.filter((c) => c.operation === "message.create");
  const after = creates.filter((c) => c.at >= ended);
  const created = after.filter((c) => c.status >= 200 && c.status < 300).map((c) => (c.at - ended) / 1000);
  const afterEnd = {
    hungAt: after.filter((c) => c.status === 0).map((c) => (c.at - ended) / 1000),
    firstCreatedAt: created.length > 0 ? Math.min(...created) : null,
    lastCreatedAt: created.length > 0 ? Math.max(...created) : null,
    createCalls: after.length,
    created: created.length,
  };
  ctx.say(
    `  after the outage's end: calls hung at ${afterEnd.hungAt.map((t) => `${t.toFixed(2)} s`).join(", ") || "none"}; messages created from ${afterEnd.firstCreatedAt?.toFixed(2) ?? "–"} s to ${afterEnd.lastCreatedAt?.toFixed(2) ?? "–"} s (${afterEnd.created} of ${afterEnd.createCalls} calls)\n`,
  );
  await ctx.emulator.clearFaults();
  const recoverySeconds = phase.delivery?.seconds ?? null;
  return {
    duration: o.duration,
    rate: o.rate,
    sent: phase.sent,
    acked: phase.acked,
    answers: addAnswers({}, phase.answers),
    p50Ms: phase.p50Ms,
    p99Ms: phase.p99Ms,
    recoverySeconds,
    missing: phase.delivery?.missing ?? Number.NaN,
    duplicated: phase.delivery?.duplicated ?? Number.NaN,
    svixCalls: { total: creates.length, unavailable: creates.filter((c) => c.status === 503).length },
    afterEnd,
    phases: [phase],
  };
}
