// `npm run bench -- [options]`: the options, their defaults and the help text.
import { parseArgs } from "node:util";

export const SCENARIOS = ["steady", "projects", "rate-limited", "overload"] as const;
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
  svixLatencyMs: number;
}

export const HELP = `npm run bench -- [options]

The relay's benchmark: the relay (started as \`npm start\` starts it) against a bare forwarder
(bench/bareForwarder.ts: JSON.parse + one svix message.create), both sending to the Svix
emulator in its own process, loaded with autocannon, every request a distinct event.

  --scenario NAME     steady | projects | rate-limited | overload | all (default all);
                      repeat it or separate names with commas
  --duration S        seconds per measured phase of steady and projects (10)
  --connections N     concurrent connections in steady and projects (32)
  --rounds N          alternating rounds per service in steady and projects (3)
  --warmup S          unmeasured warm-up per service before the scenarios (3; 0 = none)
  --db KIND           postgres (default): a database of its own, relay_bench_<random>, on
                      DATABASE_URL's server (admin URL; default
                      postgresql://postgres@127.0.0.1:5432/postgres), dropped at the end;
                      pglite: the embedded database in a temporary DATA_DIR
  --profile           run the relay with --cpu-prof (into bench/results/profiles) and print
                      its top functions by self time
  --rate-limit L      Svix's limit in rate-limited, requests/s (20)
  --rate-events N     events pushed in rate-limited (300)
  --overload-connections N   (640)
  --overload-duration S      (20)
  --svix-latency MS   Svix latency in overload (300)
  --help

Results: a table on stdout; bench/results/<timestamp>.json, bench/results/latest.json and
bench/results/latest.svg; child process logs in bench/results/logs/<timestamp>/.
Relay settings from the environment (e.g. SVIX_MAX_IN_FLIGHT) are passed on to the relay.
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
      "svix-latency": { type: "string", default: "300" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) return "help";
  const asked = (values.scenario ?? ["all"]).flatMap((s) => s.split(",")).map((s) => s.trim());
  const unknown = asked.filter((s) => s !== "all" && !SCENARIOS.includes(s as ScenarioName));
  if (unknown.length > 0)
    throw new Error(`unknown scenario ${unknown.join(", ")}; one of ${SCENARIOS.join(", ")}, all`);
  if (values.db !== "postgres" && values.db !== "pglite")
    throw new Error(`--db must be postgres or pglite, not ${values.db}`);
  return {
    // Always in the same order, whatever order they were asked in: overload last, as it leaves
    // the relay with the biggest backlog.
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
    svixLatencyMs: positive("svix-latency", values["svix-latency"], true),
  };
}
