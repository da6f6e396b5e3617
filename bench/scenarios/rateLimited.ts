// rate-limited: Svix allows L requests per second (429 with Retry-After beyond). A burst of
// events, 32 at a time, goes to the relay; how long until Svix holds all of them, how close the
// relay's delivery rate comes to L, and how many of its Svix calls it wasted on 429s.
// Answers other than 2xx are pushed again after their Retry-After, as Pub/Sub would redeliver.
import { sleep } from "../children.ts";
import type { BenchContext } from "../measure.ts";
import { addAnswers, runLoad, type BenchEvent } from "../load.ts";
import { CpuMeter } from "../procStats.ts";
import { waitForDrain } from "../relayQueue.ts";

export interface RateLimitedOptions {
  events: number;
  connections: number;
  /** Svix's limit, requests per second. */
  limit: number;
  retryAfterSeconds: number;
}

export interface RateLimitedResult {
  events: number;
  limit: number;
  /** Rounds of pushing (the first, then redeliveries of what was not acknowledged). */
  pushRounds: number;
  answers: Record<string, number>;
  acknowledged: number;
  /** From the first push until every event was acknowledged (2xx). */
  ackSeconds: number | null;
  delivered: number;
  /** From the first push until Svix held every event; null when time ran out. */
  deliverySeconds: number | null;
  deliveredPerSec: number;
  /** deliveredPerSec ÷ limit. */
  rateRatio: number;
  svixCalls: { total: number; rateLimited: number; byOperation: Record<string, Record<string, number>> };
  share429: number;
  svixDuplicates: number;
  relayCpuMsPerEvent: number;
}

export async function runRateLimited(ctx: BenchContext, o: RateLimitedOptions): Promise<RateLimitedResult> {
  ctx.say(
    `rate-limited: Svix at ${o.limit} req/s (Retry-After ${o.retryAfterSeconds}), ${o.events} events pushed ${o.connections} at a time\n`,
  );
  const deadlineMs = Math.max(120_000, (10_000 * o.events) / o.limit);
  await waitForDrain(ctx.relay.url, 60_000);
  await ctx.emulator.reset();
  await ctx.emulator.setRateLimit(o.limit, o.retryAfterSeconds);
  const events = new Map<string, BenchEvent>();
  for (let i = 0; i < o.events; i++) {
    const id = ctx.newEventId();
    events.set(id, { id, project: `bench-rl-${i % 10}` });
  }
  const cpu = new CpuMeter({ relay: ctx.relay.child.pid });
  const started = Date.now();
  const pushing = pushUntilAcknowledged(ctx, o, events, started + deadlineMs);
  const delivery = waitForDelivery(ctx, events, started, started + deadlineMs);
  const [push, delivered] = await Promise.all([pushing, delivery]);
  const calls = (await ctx.emulator.calls()).filter((c) => c.operation !== "health");
  const relayCpu = cpu.read().relay!;
  await ctx.emulator.clearFaults();

  const byOperation: Record<string, Record<string, number>> = {};
  for (const c of calls) {
    const op = byOperation[c.operation] ?? {};
    byOperation[c.operation] = op;
    op[c.status] = (op[c.status] ?? 0) + 1;
  }
  const rateLimited = calls.filter((c) => c.status === 429).length;
  const seconds = delivered.seconds ?? deadlineMs / 1000;
  const result: RateLimitedResult = {
    events: o.events,
    limit: o.limit,
    pushRounds: push.rounds,
    answers: push.answers,
    acknowledged: push.acknowledged,
    ackSeconds: push.seconds,
    delivered: delivered.count,
    deliverySeconds: delivered.seconds,
    deliveredPerSec: delivered.count / seconds,
    rateRatio: delivered.count / seconds / o.limit,
    svixCalls: { total: calls.length, rateLimited, byOperation },
    share429: calls.length === 0 ? Number.NaN : rateLimited / calls.length,
    svixDuplicates: delivered.duplicates,
    relayCpuMsPerEvent: relayCpu / Math.max(1, delivered.count),
  };
  ctx.say(
    `  relay     ${delivered.count}/${o.events} delivered in ${delivered.seconds?.toFixed(1) ?? "(not all)"} s = ${result.deliveredPerSec.toFixed(1)}/s, ` +
      `${rateLimited}/${calls.length} Svix calls drew 429, answers ${JSON.stringify(push.answers)} in ${push.rounds} push round(s)\n`,
  );
  return result;
}

async function pushUntilAcknowledged(
  ctx: BenchContext,
  o: RateLimitedOptions,
  events: Map<string, BenchEvent>,
  deadline: number,
) {
  const acked = new Set<string>();
  const answers: Record<string, number> = {};
  const started = Date.now();
  let pending = [...events.values()];
  let rounds = 0;
  while (pending.length > 0 && Date.now() < deadline) {
    rounds += 1;
    const queue = [...pending];
    const load = await runLoad({
      url: ctx.relay.url,
      connections: Math.min(o.connections, queue.length),
      amount: queue.length,
      // autocannon builds exactly `amount` requests; the fallback only guards the type.
      nextEvent: () => queue.shift() ?? pending[0]!,
    });
    addAnswers(answers, load.answers);
    for (const id of load.acked) acked.add(id);
    pending = pending.filter((e) => !acked.has(e.id));
    // Pub/Sub waits before redelivering; the relay's Retry-After says how long.
    if (pending.length > 0) await sleep(Math.max(1, load.maxRetryAfter) * 1000);
  }
  return {
    rounds,
    answers,
    acknowledged: acked.size,
    seconds: pending.length === 0 ? (Date.now() - started) / 1000 : null,
  };
}

/** Polls the emulator until it holds every event; the time is the last message's own timestamp. */
async function waitForDelivery(ctx: BenchContext, events: Map<string, BenchEvent>, started: number, deadline: number) {
  let count = 0;
  let duplicates = 0;
  while (Date.now() < deadline) {
    const messages = await ctx.emulator.messages();
    const ours = messages.data.filter((m) => m.eventId !== null && events.has(m.eventId));
    count = new Set(ours.map((m) => m.eventId)).size;
    duplicates = messages.duplicates.length;
    if (count >= events.size) {
      const last = Math.max(...ours.map((m) => Date.parse(m.timestamp)));
      return { count, duplicates, seconds: (last - started) / 1000 };
    }
    await sleep(200);
  }
  return { count, duplicates, seconds: null };
}
