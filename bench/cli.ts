// `npm run bench -- [options]`: the options, their defaults and the help text.
import { parseArgs } from "node:util";
import { STEADY_SIZES, type SteadySize } from "./scenarios/steady.ts";

/**
 * In the order they run (whatever order they are asked in). rate-limited after every scenario whose
 * delivery is timed: the relay keeps the pace it learned from Svix's 429s for a long while after,
 * and an outage's backlog measured after it drained at ≈ 13 messages/s. overload last, as it
 * leaves the biggest backlog.
 */
export const SCENARIOS = ["steady", "projects", "tracing", "latency", "outage", "rate-limited", "overload"] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface BenchOptions {
  scenarios: ScenarioName[];
  duration: number;
  connections: number;
  rounds: number;
  warmup: number;
  db: "postgres" | "pglite";
  profile: boolean;
  rateLimit: number;
  rateEvents: number;
  overloadConnections: number;
  overloadDuration: number;
  /** Svix's latency in overload; undefined: the scenario's own (300 ms). */
  svixLatencyMs: number | undefined;
  /** Svix's latency in latency; undefined: 100 ms. */
  latencySvixMs: number;
  latencyDuration: number;
  sizes: SteadySize[];
  push: boolean;
  outageDuration: number;
  outageRate: number;
  /** Seconds to wait for every acknowledged event to reach Svix (latency, outage). */
  deliveryWait: number;
}

export const HELP = `npm run bench -- [options]

The relay's benchmark: the relay (started as \`npm start\` starts it) against a bare forwarder
(bench/bareForwarder.ts: JSON.parse + one svix message.create), both sending to the Svix
emulator in its own process, loaded with autocannon, every request a distinct event.

  --scenario NAME     steady | projects | tracing | latency | outage | rate-limited | overload
                      | all (default all, in this order); repeat it or separate names with commas
  --duration S        seconds per measured phase of steady, projects and tracing (10)
  --connections N     concurrent connections in steady, projects, tracing and latency (32)
  --rounds N          alternating rounds per service in steady, projects, tracing, latency (3)
  --sizes LIST        steady's event sizes, comma-separated (small,large,mixed): small is a
                      user.created event (350 bytes), large a subscription.activated event
                      carrying its plan's coverage of 250 countries (5,860 bytes), mixed one
                      large in four; the relay ÷ forwarder ratio is reported per size
  --push              steady and tracing post wrapped Pub/Sub pushes instead of bare events
                      (the relay then answers on commit, the forwarder after Svix)
  --warmup S          unmeasured warm-up per service before the scenarios (3; 0 = none)
  --db KIND           postgres (default): a database of its own, relay_bench_<random>, on
                      DATABASE_URL's server (admin URL; default
                      postgresql://postgres@127.0.0.1:5432/postgres), dropped at the end;
                      pglite: the embedded database in a temporary DATA_DIR
  --profile           run the relay with --cpu-prof (into bench/results/profiles) and print
                      its top functions by self time
  tracing             steady's load on two more relays started together, tracing off and on
                      (OTEL_EXPORTER_OTLP_ENDPOINT at an OTLP/HTTP sink the bench runs,
                      OTEL_TRACES_SAMPLER=always_on), alternating rounds: on ÷ off, after
                      10 s of unmeasured load on each (none with --warmup 0)
  latency             Svix answering in --svix-latency ms (100 here), 32 connections pushing
                      wrapped Pub/Sub envelopes for --latency-duration s, relay vs forwarder
                      in alternating rounds: pushes answered/s, p50/p99, and how long after
                      the load Svix holds every acknowledged event (each exactly once)
  --latency-duration S       (15)
  outage              Svix answers 503 for --outage-duration s while --outage-rate pushes/s
                      arrive, then two calls hang: seconds from the outage's end until Svix
                      holds every acknowledged event (relay only)
  --outage-duration S        (15)
  --outage-rate N            pushes per second during the outage (200)
  --delivery-wait S   how long latency and outage wait for Svix to hold every acknowledged
                      event (60)
  --rate-limit L      Svix's limit in rate-limited, requests/s (20)
  --rate-events N     events pushed in rate-limited (300)
  --overload-connections N   (640)
  --overload-duration S      (20)
  --svix-latency MS   Svix latency in overload (300) and latency (100)
  --help

Results: a table on stdout; bench/results/<timestamp>.json, bench/results/latest.json and
bench/results/latest.svg; child process logs in bench/results/logs/<timestamp>/.
Relay settings from the environment (e.g. SVIX_MAX_IN_FLIGHT) are passed on to the relay;
OTEL_EXPORTER_OTLP_ENDPOINT and OTEL_TRACES_SAMPLER are not (tracing is the tracing scenario's).
The relay's memory at rest (zero-configuration PGlite, and PostgreSQL): node bench/restingMemory.ts --help.
`;

function positive(name: string, value: string | undefined, allowZero = false): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || (!allowZero && n === 0))
    throw new Error(`--${name} must be a ${allowZero ? "non-negative" : "positive"} number, not ${value}`);
  return n;
}

/** The options, or "help" when --help was asked for. Throws on a bad option. */
export function parseBenchArgs(argv: string[]): BenchOptions | "help" {
  const { values } = parseArgs({
    args: argv,
    options: {
      scenario: { type: "string", multiple: true },
      duration: { type: "string", default: "10" },
      connections: { type: "string", default: "32" },
      rounds: { type: "string", default: "3" },
      warmup: { type: "string", default: "3" },
      db: { type: "string", default: "postgres" },
      profile: { type: "boolean", default: false },
      "rate-limit": { type: "string", default: "20" },
      "rate-events": { type: "string", default: "300" },
      "overload-connections": { type: "string", default: "640" },
      "overload-duration": { type: "string", default: "20" },
      "svix-latency": { type: "string" },
      "latency-duration": { type: "string", default: "15" },
      sizes: { type: "string", default: STEADY_SIZES.join(",") },
      push: { type: "boolean", default: false },
      "outage-duration": { type: "string", default: "15" },
      "outage-rate": { type: "string", default: "200" },
      "delivery-wait": { type: "string", default: "60" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) return "help";
  const asked = (values.scenario ?? ["all"]).flatMap((s) => s.split(",")).map((s) => s.trim());
  const unknown = asked.filter((s) => s !== "all" && !SCENARIOS.includes(s as ScenarioName));
  if (unknown.length > 0)
    throw new Error(`unknown scenario ${unknown.join(", ")}; one of ${SCENARIOS.join(", ")}, all`);
  const sizes = values.sizes.split(",").map((s) => s.trim());
  const badSize = sizes.filter((s) => !STEADY_SIZES.includes(s as SteadySize));
  if (badSize.length > 0 || sizes.length === 0)
    throw new Error(`--sizes: ${badSize.join(", ") || "none"}; a list of ${STEADY_SIZES.join(", ")}`);
  if (values.db !== "postgres" && values.db !== "pglite")
    throw new Error(`--db must be postgres or pglite, not ${values.db}`);
  return {
    scenarios: SCENARIOS.filter((s) => asked.includes("all") || asked.includes(s)),
    duration: positive("duration", values.duration),
    connections: Math.round(positive("connections", values.connections)),
    rounds: Math.round(positive("rounds", values.rounds)),
    warmup: positive("warmup", values.warmup, true),
    db: values.db,
    profile: values.profile,
    rateLimit: Math.round(positive("rate-limit", values["rate-limit"])),
    rateEvents: Math.round(positive("rate-events", values["rate-events"])),
    overloadConnections: Math.round(positive("overload-connections", values["overload-connections"])),
    overloadDuration: positive("overload-duration", values["overload-duration"]),
    svixLatencyMs:
      values["svix-latency"] === undefined ? undefined : positive("svix-latency", values["svix-latency"], true),
    latencySvixMs: values["svix-latency"] === undefined ? 100 : positive("svix-latency", values["svix-latency"], true),
    latencyDuration: positive("latency-duration", values["latency-duration"]),
    sizes: [...new Set(sizes)] as SteadySize[],
    push: values.push,
    outageDuration: positive("outage-duration", values["outage-duration"]),
    outageRate: positive("outage-rate", values["outage-rate"]),
    deliveryWait: positive("delivery-wait", values["delivery-wait"]),
  };
}
