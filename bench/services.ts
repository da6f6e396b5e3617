// Starting the three processes under test, each the way it runs for real: the Svix emulator
// (npm run emulator), the relay (npm start) and the forwarder (with the relay's node flags).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, startChild, waitForHttp, type Child } from "./children.ts";

/** The key the emulator accepts; relay and forwarder both use it. */
export const BENCH_SVIX_KEY = "bench-svix-key";

/**
 * Relay settings the benchmark decides (where it listens, which database and Svix, no
 * credentials asked of the load); anything else in the environment reaches the relay.
 */
const OWNED_BY_BENCH = [
  "PORT",
  "HOST",
  "LOG_LEVEL",
  "NODE_ENV",
  "DATABASE_URL",
  "MIGRATE_DATABASE_URL",
  "DATA_DIR",
  "SVIX_API_KEY",
  "SVIX_SERVER_URL",
  "SVIX_EMULATOR",
  "SVIX_EMULATOR_PORT",
  "API_TOKENS",
  "INGEST_TOKENS",
  "INGEST_AUTH",
  // Tracing is the benchmark's to switch on (--scenario tracing), not the environment's.
  "OTEL_EXPORTER_OTLP_ENDPOINT",
  "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
  "OTEL_TRACES_SAMPLER",
];

function baseEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of OWNED_BY_BENCH) delete env[key];
  return env;
}

/** Relay settings (the variables .env.example lists) that reach the relay from the environment, for the report. */
export function passedRelaySettings(root: string): Record<string, string> {
  const names = new Set<string>();
  try {
    for (const match of readFileSync(join(root, ".env.example"), "utf8").matchAll(/^#?\s*([A-Z][A-Z0-9_]*)=/gm))
      names.add(match[1]!);
  } catch {
    // No .env.example: nothing to report.
  }
  const env = baseEnv();
  return Object.fromEntries([...names].filter((n) => env[n] !== undefined && env[n] !== "").map((n) => [n, env[n]!]));
}

/**
 * The node arguments of an npm script (`"start": "node --max-semi-space-size=16 src/bin/relay.ts"` →
 * [--max-semi-space-size=16, src/bin/relay.ts]): the processes run exactly as their npm scripts run them, whatever loader
 * the project uses this week. `fallback` when the script is not a plain `node …` command.
 */
export function npmScriptArgs(root: string, script: string, fallback: string[]): string[] {
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { scripts?: Record<string, string> };
  const words = (pkg.scripts?.[script] ?? "").trim().split(/\s+/);
  const plain = words[0] === "node" && words.length > 1 && words.every((w) => /^[\w@./:=-]+$/.test(w));
  return plain ? words.slice(1) : fallback;
}

/** `npm start`'s node arguments, script last. */
export function relayArgs(root: string): string[] {
  return npmScriptArgs(root, "start", ["src/bin/relay.ts"]);
}

/**
 * The V8 and Node flags `npm start` gives the relay, without its script and without the .env
 * file: what the tests and the chaos run start the relay's programs with (they pass their own
 * environment), so a flag changed there is changed for every process that runs the relay.
 */
export function relayNodeFlags(root: string): string[] {
  return relayArgs(root).filter((w) => w.startsWith("--") && !w.startsWith("--env-file"));
}

export interface Started {
  child: Child;
  url: string;
}

/** Told about each child as soon as it is spawned, so that it is stopped even if it never gets ready. */
export type Track = (child: Child) => void;

export async function startEmulator(root: string, logDir: string, track: Track): Promise<Started> {
  const port = await freePort();
  const child = startChild({
    name: "emulator",
    args: [
      ...npmScriptArgs(root, "emulator", ["src/bin/emulator.ts"]),
      "--port",
      String(port),
      "--api-key",
      BENCH_SVIX_KEY,
    ],
    env: baseEnv(),
    cwd: root,
    logFile: join(logDir, "emulator.log"),
  });
  track(child);
  const url = `http://127.0.0.1:${port}`;
  // Ready when its control API answers (its banner's wording is not an interface).
  await waitForHttp(child, `${url}/_emulator/messages`, 60_000);
  return { child, url };
}

export async function startForwarder(root: string, logDir: string, svixUrl: string, track: Track): Promise<Started> {
  const child = startChild({
    name: "forwarder",
    // The relay's node flags (its loader, if any), so that the two differ only in what they do.
    args: [...relayArgs(root).slice(0, -1), "bench/bareForwarder.ts"],
    env: { ...baseEnv(), PORT: "0", SVIX_API_KEY: BENCH_SVIX_KEY, SVIX_SERVER_URL: svixUrl },
    cwd: root,
    logFile: join(logDir, "forwarder.log"),
  });
  track(child);
  const match = await child.waitForLine(/bare forwarder on (http:\/\/\S+)/, 60_000);
  return { child, url: match[1]! };
}

export interface RelayStart {
  root: string;
  logDir: string;
  svixUrl: string;
  databaseEnv: Record<string, string>;
  /** Directory for --cpu-prof; no profiling when absent. */
  profileDir?: string;
  /** The process's name in the benchmark and its log's ("relay" by default). */
  name?: string;
  /** More environment, e.g. the OTEL_* variables of the traced relay. */
  env?: Record<string, string>;
}

export async function startRelay(o: RelayStart, track: Track): Promise<Started> {
  const port = await freePort();
  const profile = o.profileDir ? ["--cpu-prof", "--cpu-prof-dir", o.profileDir] : [];
  const name = o.name ?? "relay";
  const child = startChild({
    name,
    args: [...profile, ...relayArgs(o.root)],
    env: {
      ...baseEnv(),
      ...o.databaseEnv,
      PORT: String(port),
      HOST: "127.0.0.1",
      LOG_LEVEL: "warn",
      SVIX_API_KEY: BENCH_SVIX_KEY,
      SVIX_SERVER_URL: o.svixUrl,
      // The load generator sends no credentials: an open API on loopback, on purpose.
      OPEN_API: "true",
      ...o.env,
    },
    cwd: o.root,
    logFile: join(o.logDir, `${name}.log`),
  });
  track(child);
  const url = `http://127.0.0.1:${port}`;
  // LOG_LEVEL=warn hides the "relay listening" line: readiness is the relay's own /readyz.
  await waitForHttp(child, `${url}/readyz`, 120_000);
  return { child, url };
}

/** The OTLP/HTTP sink of the traced relay (bench/otlpSink.ts). */
export async function startOtlpSink(root: string, logDir: string, track: Track): Promise<Started> {
  const child = startChild({
    name: "otlp-sink",
    args: ["bench/otlpSink.ts"],
    env: { ...baseEnv(), PORT: "0" },
    cwd: root,
    logFile: join(logDir, "otlp-sink.log"),
  });
  track(child);
  const match = await child.waitForLine(/otlp sink on (http:\/\/\S+)/, 60_000);
  return { child, url: match[1]! };
}
