// The faults of a chaos run, drawn from its seed: the same seed gives the same schedule, so a run
// that found a bug can be rerun with the same faults at the same moments. Pure: no I/O, no clock.

/** What a fault does. The database ones interrupt it (stop: connections cut; pause: SIGSTOP). */
export type FaultKind =
  | "relayKill"
  | "workerKill"
  | "databaseStop"
  | "databasePause"
  | "svix5xx"
  | "svix429"
  | "svixHang"
  | "svixLatency";

export const PROCESS_FAULTS: readonly FaultKind[] = ["relayKill", "workerKill", "databaseStop", "databasePause"];
export const SVIX_FAULTS: readonly FaultKind[] = ["svix5xx", "svix429", "svixHang", "svixLatency"];

export interface Fault {
  /** Milliseconds after the start of publishing. */
  atMs: number;
  kind: FaultKind;
  /** relayKill: which relay (0 or 1). */
  target?: number;
  /** How long the process or database stays down or paused, ms (kills and database faults). */
  downMs?: number;
  /** Svix faults: how long the rule stays, ms (by time, not by count: a slowed relay must not drag an outage out). */
  durationMs?: number;
  /** svix5xx: the status; svix429: Retry-After seconds; svixLatency: the longest delay, ms. */
  status?: number;
  retryAfterSeconds?: number;
  maxLatencyMs?: number;
}

/** mulberry32: a small, fast PRNG; uniform in [0, 1). */
export function prng(seed: number): () => number {
  let a = (Math.trunc(seed) ^ 0x9e3779b9) >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function between(random: () => number, min: number, max: number): number {
  return Math.round(min + random() * (max - min));
}

function drawFault(kind: FaultKind, atMs: number, random: () => number, relays: number): Fault {
  switch (kind) {
    case "relayKill":
      return { atMs, kind, target: Math.floor(random() * relays), downMs: between(random, 300, 3000) };
    case "workerKill":
      return { atMs, kind, downMs: between(random, 300, 3000) };
    case "databaseStop":
    case "databasePause":
      return { atMs, kind, downMs: between(random, 2000, 5000) };
    case "svix5xx":
      return {
        atMs,
        kind,
        durationMs: between(random, 1000, 5000),
        status: [500, 502, 503, 504][Math.floor(random() * 4)],
      };
    case "svix429":
      return { atMs, kind, durationMs: between(random, 2000, 8000), retryAfterSeconds: between(random, 1, 2) };
    case "svixHang":
      return { atMs, kind, durationMs: between(random, 500, 2000) };
    case "svixLatency":
      return { atMs, kind, durationMs: between(random, 3000, 10_000), maxLatencyMs: between(random, 1000, 4000) };
  }
}

/** True when the database is interrupted by this fault. */
export function isDatabaseFault(kind: FaultKind): boolean {
  return kind === "databaseStop" || kind === "databasePause";
}

export interface ScheduleOptions {
  seed: number;
  /** Length of the publishing phase, seconds. */
  seconds: number;
  /** Our emulator: Svix faults too. An external Svix brings its own. */
  svixFaults: boolean;
  /** How many relays may be killed (default 2). */
  relays?: number;
}

/**
 * Every required kind once (a relay kill, a worker kill, a database stop, and with our emulator a
 * 5xx burst, a 429 storm, hung calls and a latency spike), then about one more fault per 10 s of
 * any kind, all inside the first 10 %–70 % of the run so the last one is over well before the
 * publishing ends. Database interruptions never overlap (one has to end, plus 3 s, before the next).
 */
export function buildSchedule(options: ScheduleOptions): Fault[] {
  const random = prng(options.seed);
  const relays = options.relays ?? 2;
  const totalMs = options.seconds * 1000;
  const from = Math.max(2000, totalMs * 0.1);
  const to = Math.max(from + 1000, totalMs * 0.7);
  const required: FaultKind[] = ["relayKill", "workerKill", "databaseStop"];
  if (options.svixFaults) required.push(...SVIX_FAULTS);
  const kinds = options.svixFaults ? [...PROCESS_FAULTS, ...SVIX_FAULTS] : [...PROCESS_FAULTS];
  const extra = Math.floor(options.seconds / 10);
  const wanted: FaultKind[] = [...required];
  for (let i = 0; i < extra; i++) wanted.push(kinds[Math.floor(random() * kinds.length)]!);

  const faults: Fault[] = [];
  for (const [i, kind] of wanted.entries()) {
    // Required faults spread over the window (one slot each, jittered); extras anywhere in it.
    const atMs =
      i < required.length
        ? Math.round(from + ((i + random()) / required.length) * (to - from))
        : between(random, from, to);
    faults.push(drawFault(kind, atMs, random, relays));
  }
  // Shuffle which required kind takes which slot, deterministically.
  const slots = faults.slice(0, required.length).map((f) => f.atMs);
  for (let i = slots.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [slots[i], slots[j]] = [slots[j]!, slots[i]!];
  }
  for (const [i, atMs] of slots.entries()) faults[i]!.atMs = atMs;

  faults.sort((a, b) => a.atMs - b.atMs || a.kind.localeCompare(b.kind));
  // Database interruptions one at a time; a required stop is never the one dropped.
  const kept: Fault[] = [];
  let databaseFreeAt = 0;
  const requiredStop = faults.find((f) => f.kind === "databaseStop");
  for (const fault of faults) {
    if (isDatabaseFault(fault.kind)) {
      if (fault.atMs < databaseFreeAt && fault !== requiredStop) continue;
      if (fault.atMs < databaseFreeAt) fault.atMs = databaseFreeAt;
      databaseFreeAt = fault.atMs + (fault.downMs ?? 0) + 3000;
    }
    kept.push(fault);
  }
  return kept.sort((a, b) => a.atMs - b.atMs || a.kind.localeCompare(b.kind));
}

/** One line per fault, for the timeline a failed run prints. */
export function describeFault(fault: Fault): string {
  const at = `${(fault.atMs / 1000).toFixed(1).padStart(6)} s`;
  switch (fault.kind) {
    case "relayKill":
      return `${at}  kill -9 relay ${fault.target}, restarted after ${fault.downMs} ms`;
    case "workerKill":
      return `${at}  kill -9 the pull worker, restarted after ${fault.downMs} ms`;
    case "databaseStop":
      return `${at}  PostgreSQL stopped (fast: connections cut) for ${fault.downMs} ms`;
    case "databasePause":
      return `${at}  PostgreSQL paused (SIGSTOP) for ${fault.downMs} ms`;
    case "svix5xx":
      return `${at}  Svix answers ${fault.status} to every message.create for ${fault.durationMs} ms`;
    case "svix429":
      return `${at}  Svix answers 429 (Retry-After: ${fault.retryAfterSeconds}) to every message.create for ${fault.durationMs} ms`;
    case "svixHang":
      return `${at}  Svix never answers a message.create made in the next ${fault.durationMs} ms`;
    case "svixLatency":
      return `${at}  Svix delays every message.create by up to ${fault.maxLatencyMs} ms for ${fault.durationMs} ms`;
  }
}
