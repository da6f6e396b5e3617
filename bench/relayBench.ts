// `npm run bench -- [--scenario steady|projects|tracing|latency|outage|rate-limited|overload] [--db pglite] [--profile] …`
// The relay's benchmark: the relay as `npm start` runs it against a bare forwarder, both sending to
// the Svix emulator in its own process, loaded with autocannon; results next to the performance
// targets (bench/report.ts), in bench/results/. `--help` lists the options.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { stopChild, type Child } from "./children.ts";
import { HELP, parseBenchArgs, type BenchOptions } from "./cli.ts";
import {
  analyzeBenchDatabase,
  createBenchDatabase,
  DEFAULT_ADMIN_URL,
  describeServer,
  type BenchDatabase,
} from "./database.ts";
import { EmulatorControl } from "./emulatorControl.ts";
import { phaseForJson, warmUp, type BenchContext } from "./measure.ts";
import { findProfile, formatProfile, summarizeProfile, type ProfileSummary } from "./profile.ts";
import { chartGroups, formatTable, resultRows, TARGETS, type BenchResults } from "./report.ts";
import { PgStats } from "./pgStats.ts";
import { runLatency } from "./scenarios/latency.ts";
import { runOutage } from "./scenarios/outage.ts";
import { runOverload } from "./scenarios/overload.ts";
import { runProjects } from "./scenarios/projects.ts";
import { runRateLimited } from "./scenarios/rateLimited.ts";
import { runSteady } from "./scenarios/steady.ts";
import { runTracing } from "./scenarios/tracing.ts";
import {
  passedRelaySettings,
  startEmulator,
  startForwarder,
  startOtlpSink,
  startRelay,
  type Started,
} from "./services.ts";
import { barChartSvg } from "./svgChart.ts";

const say = (text: string) => void process.stdout.write(text);
// autocannon's timers (retimer) compute a negative delay when the event loop runs late under 640
// connections; Node warns and waits 1 ms, which is what was meant. Other warnings still print.
process.removeAllListeners("warning");
process.on(
  "warning",
  (w) => void (w.name !== "TimeoutNegativeWarning" && process.stderr.write(`${w.name}: ${w.message}\n`)),
);
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const resultsDir = join(root, "bench", "results");

let options: BenchOptions | "help";
try {
  options = parseBenchArgs(process.argv.slice(2));
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n\n${HELP}`);
  process.exit(2);
}
if (options === "help") {
  say(HELP);
  process.exit(0);
}
const o = options;

const stamp = new Date().toISOString().replace(/[:.]/g, "-");
const logDir = join(resultsDir, "logs", stamp);
const profileDir = join(resultsDir, "profiles");
mkdirSync(logDir, { recursive: true });
if (o.profile) mkdirSync(profileDir, { recursive: true });

// Everything started is stopped (and waited for) exactly once, in reverse order, whether the run
// ends, fails or is interrupted: the relay before the emulator and the database it uses.
const children: Child[] = [];
let database: BenchDatabase | undefined;
let pgStats: PgStats | undefined;
let cleaning: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    await pgStats?.close();
    for (const child of [...children].reverse()) {
      const { code, signal } = await stopChild(child);
      if (code !== 0)
        say(
          `  ${child.name} exited with ${code ?? signal}; its log: ${relative(root, join(logDir, `${child.name}.log`))}\n`,
        );
    }
    children.length = 0;
    await database?.drop().catch((error: unknown) => say(`could not drop the benchmark database: ${String(error)}\n`));
  })();
  return cleaning;
}
/** Every child, from the moment it is spawned; one spawned while cleaning up is stopped at once. */
function track(child: Child): void {
  children.push(child);
  if (cleaning) void stopChild(child);
}
let interrupted = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (interrupted) return void say(`${signal}: already stopping\n`);
    interrupted = true;
    say(`\n${signal}: stopping the relay, the forwarder and the emulator, dropping the database…\n`);
    void cleanup().finally(() => process.exit(130));
  });
}

function gitRevision(): string {
  try {
    const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], {
      cwd: root,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--", "src"], {
      cwd: root,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
    // Others edit src/ while benchmarks run: say when the relay measured is not the commit.
    return dirty ? `${head} + uncommitted changes in src/` : head;
  } catch {
    return "unknown";
  }
}

async function main(): Promise<void> {
  const adminUrl = process.env.DATABASE_URL || DEFAULT_ADMIN_URL;
  const loadStart = loadavg();
  say(
    `relay benchmark: ${o.scenarios.join(", ")}; database ${o.db}; load average ${loadStart.map((l) => l.toFixed(2)).join(" ")} on ${cpus().length} CPUs\n`,
  );
  database = await createBenchDatabase(o.db, adminUrl);
  // Interrupted while it was being created: cleanup may already have run past the database.
  if (interrupted) return void (await database.drop());
  const serverSettings = o.db === "postgres" ? await describeServer(adminUrl) : {};
  say(`database: ${database.description}\n`);

  const emulator = await startEmulator(root, logDir, track);
  const forwarder = await startForwarder(root, logDir, emulator.url, track);
  const relaySpawnedAt = Date.now();
  const relay = await startRelay(
    { root, logDir, svixUrl: emulator.url, databaseEnv: database.env, profileDir: o.profile ? profileDir : undefined },
    track,
  );
  // Tracing: two more relays on the same database, started together and loaded alike, one of them
  // exporting every span to a sink of our own: the only difference between them is tracing (the
  // main relay's history, minutes of other scenarios, is not the traced one's).
  let sink: Started | undefined;
  let traced: Started | undefined;
  let untraced: Started | undefined;
  let twinsSpawnedAt = 0;
  if (o.scenarios.includes("tracing")) {
    sink = await startOtlpSink(root, logDir, track);
    // Both spawned at once: one origin for both profiles' phase windows (ms after the spawn).
    twinsSpawnedAt = Date.now();
    const databaseEnv = database.env;
    const twin = (name: string, env: Record<string, string>) =>
      startRelay(
        {
          root,
          logDir,
          profileDir: o.profile ? profileDir : undefined,
          svixUrl: emulator.url,
          databaseEnv,
          name,
          env,
        },
        track,
      );
    [untraced, traced] = await Promise.all([
      twin("relay-untraced", {}),
      twin("relay-traced", { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url, OTEL_TRACES_SAMPLER: "always_on" }),
    ]);
  }
  const started = [emulator, forwarder, relay, ...[sink, untraced, traced].filter((c) => c !== undefined)];
  for (const { child, url } of started)
    say(`${child.name.padEnd(12)} ${url}  pid ${child.pid}  node ${child.args.join(" ")}\n`);
  say("\n");

  const databaseName = database.env.DATABASE_URL ? new URL(database.env.DATABASE_URL).pathname.slice(1) : undefined;
  if (databaseName) pgStats = await PgStats.open(adminUrl, databaseName);
  const run = randomBytes(4).toString("hex");
  let sequence = 0;
  const ctx: BenchContext = {
    emulator: new EmulatorControl(emulator.url),
    emulatorChild: emulator.child,
    relay: { name: "relay", url: relay.url, child: relay.child },
    forwarder: { name: "forwarder", url: forwarder.url, child: forwarder.child },
    databaseName,
    pgStats,
    newEventId: () => `evt_bench_${run}_${sequence++}`,
    say,
  };
  const results: BenchResults = {};
  const startedAt = new Date();
  const serviceOf = ({ url, child }: Started) => ({ name: child.name, url, child });
  const twins = traced && untraced && { off: serviceOf(untraced), on: serviceOf(traced) };
  await warmUp(ctx, o.warmup, o.connections, twins ? [twins.off, twins.on] : []);
  if (database.env.DATABASE_URL) {
    const ms = await analyzeBenchDatabase(database.env.DATABASE_URL);
    say(
      `ANALYZE after the warm-up, as autovacuum would (${ms.toFixed(0)} ms): plans from here see the ledger's size\n`,
    );
  }
  say("\n");
  for (const scenario of o.scenarios) {
    if (scenario === "steady") results.steady = await runSteady(ctx, o);
    if (scenario === "projects") results.projects = await runProjects(ctx, o);
    if (scenario === "tracing" && twins && sink) results.tracing = await runTracing(ctx, twins, sink.url, o);
    if (scenario === "latency") {
      results.latency = await runLatency(ctx, {
        connections: o.connections,
        duration: o.latencyDuration,
        rounds: o.rounds,
        svixLatencyMs: o.latencySvixMs,
        deliveryWaitMs: o.deliveryWait * 1000,
      });
    }
    if (scenario === "outage") {
      results.outage = await runOutage(ctx, {
        duration: o.outageDuration,
        rate: o.outageRate,
        connections: o.connections,
        deliveryWaitMs: o.deliveryWait * 1000,
      });
    }
    if (scenario === "rate-limited") {
      results.rateLimited = await runRateLimited(ctx, {
        events: o.rateEvents,
        connections: 32,
        limit: o.rateLimit,
        retryAfterSeconds: 1,
      });
    }
    if (scenario === "overload") {
      results.overload = await runOverload(ctx, {
        connections: o.overloadConnections,
        duration: o.overloadDuration,
        svixLatencyMs: o.svixLatencyMs ?? 300,
      });
    }
    say("\n");
  }
  const loadEnd = loadavg();
  // The profile's clock starts when the relay's process does, close enough to its spawn; only the
  // relay's own phases count (in the forwarder's it idles, and the idle share would mislead).
  const relayPhases = [
    results.steady?.phases,
    results.projects?.phases,
    results.tracing?.phases,
    results.latency?.phases,
    results.outage?.phases,
    results.overload?.phases,
  ]
    .flatMap((p) => p ?? [])
    .filter((p) => p.service === "relay");
  const windowsOf = (phases: typeof relayPhases) =>
    phases.map((p): [number, number] => [p.startedAt - relaySpawnedAt, p.endedAt - relaySpawnedAt]);
  const profileWindows = windowsOf(relayPhases);
  // The main thread's CPU per event over some phases: a profile's shares in ms per event.
  const mainThreadMsPerEventOf = (phases: typeof relayPhases) => {
    const handled = phases.reduce((sum, p) => sum + p.handled, 0);
    const ms = phases.reduce((sum, p) => sum + (p.serviceThreadsCpuMs.MainThread ?? 0), 0);
    return handled > 0 && ms > 0 ? ms / handled : undefined;
  };

  // The relay writes its CPU profile when it exits: stop it now, before reading the profile.
  const relayExit = await stopChild(relay.child);
  children.splice(children.indexOf(relay.child), 1);
  let profile: ProfileSummary | undefined;
  // With several kinds of phase (steady's sizes), each kind's profile too.
  const profileByLabel: Array<{ label: string; summary: ProfileSummary; mainThreadMsPerEvent: number | undefined }> =
    [];
  if (o.profile) {
    const file = findProfile(profileDir, relay.child.pid);
    if (file) {
      profile = summarizeProfile(file, root, profileWindows.length > 0 ? profileWindows : undefined);
      const labels = [...new Set(relayPhases.map((p) => p.label))];
      if (labels.length > 1) {
        for (const label of labels) {
          const phases = relayPhases.filter((p) => p.label === label);
          profileByLabel.push({
            label,
            summary: summarizeProfile(file, root, windowsOf(phases), 12),
            mainThreadMsPerEvent: mainThreadMsPerEventOf(phases),
          });
        }
      }
    } else
      say(
        `no .cpuprofile for pid ${relay.child.pid} in ${relative(root, profileDir)} (relay exit: ${relayExit.code ?? relayExit.signal})\n`,
      );
    // The twins' profiles too: where tracing's cost goes.
    for (const [twin, label] of [
      [untraced, "relay-untraced (tracing off)"],
      [traced, "relay-traced (tracing on)"],
    ] as const) {
      const twinPhases = (results.tracing?.phases ?? []).filter((p) => p.service === twin?.child.name);
      if (!twin || twinPhases.length === 0) continue;
      await stopChild(twin.child);
      children.splice(children.indexOf(twin.child), 1);
      const file = findProfile(profileDir, twin.child.pid);
      if (file)
        profileByLabel.push({
          label,
          summary: summarizeProfile(
            file,
            root,
            twinPhases.map((p): [number, number] => [p.startedAt - twinsSpawnedAt, p.endedAt - twinsSpawnedAt]),
            20,
          ),
          mainThreadMsPerEvent: mainThreadMsPerEventOf(twinPhases),
        });
    }
  }

  const rows = resultRows(results);
  say(formatTable(rows));
  say(
    `load average ${loadStart.map((l) => l.toFixed(2)).join(" ")} at the start, ${loadEnd.map((l) => l.toFixed(2)).join(" ")} at the end (${cpus().length} CPUs, shared by relay, forwarder, emulator, PostgreSQL and the load generator)\n`,
  );
  const mainThreadMsPerEvent = mainThreadMsPerEventOf(relayPhases);
  if (profile) say(`\n${formatProfile({ ...profile, file: relative(root, profile.file) }, mainThreadMsPerEvent)}`);
  for (const { label, summary, mainThreadMsPerEvent: ms } of profileByLabel)
    say(`\n${label} phases only:\n${formatProfile({ ...summary, file: relative(root, summary.file) }, ms)}`);

  const document = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    revision: gitRevision(),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      memoryMb: Math.round(totalmem() / 2 ** 20),
      node: process.version,
      loadavgStart: loadStart,
      loadavgEnd: loadEnd,
    },
    options: o,
    database: { kind: database.kind, server: serverSettings },
    relaySettingsFromEnvironment: passedRelaySettings(root),
    commands: Object.fromEntries(started.map((s) => [s.child.name, `node ${s.child.args.join(" ")}`])),
    relayExit,
    targets: TARGETS,
    table: rows,
    scenarios: {
      steady: results.steady && { ...results.steady, phases: results.steady.phases.map(phaseForJson) },
      projects: results.projects && { ...results.projects, phases: results.projects.phases.map(phaseForJson) },
      rateLimited: results.rateLimited,
      overload: results.overload && { ...results.overload, phases: results.overload.phases.map(phaseForJson) },
      tracing: results.tracing && { ...results.tracing, phases: results.tracing.phases.map(phaseForJson) },
      latency: results.latency && { ...results.latency, phases: results.latency.phases.map(phaseForJson) },
      outage: results.outage && { ...results.outage, phases: results.outage.phases.map(phaseForJson) },
    },
    profile: profile && {
      ...profile,
      file: relative(root, profile.file),
      mainThreadMsPerEvent,
      byLabel: profileByLabel.map((p) => ({ ...p, summary: { ...p.summary, file: relative(root, p.summary.file) } })),
    },
  };
  const json = `${JSON.stringify(document, (_k, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? null : v), 2)}\n`;
  writeFileSync(join(resultsDir, `${stamp}.json`), json);
  writeFileSync(join(resultsDir, "latest.json"), json);
  const subtitle = `${database.kind}, ${o.connections} connections, ${cpus().length} CPUs, load ${loadStart[0]!.toFixed(1)}→${loadEnd[0]!.toFixed(1)}, ${document.revision}`;
  writeFileSync(
    join(resultsDir, "latest.svg"),
    barChartSvg("Relay vs bare forwarder (events/s)", subtitle, chartGroups(results)),
  );
  say(
    `\nresults: bench/results/${stamp}.json, bench/results/latest.json, bench/results/latest.svg; logs: ${relative(root, logDir)}/\n`,
  );
}

try {
  await main();
} catch (error) {
  // After Ctrl-C the failures are the children going away: not worth a stack trace.
  if (!interrupted)
    process.stderr.write(
      `benchmark failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
  process.exitCode = 1;
} finally {
  await cleanup();
}
// autocannon's and fetch's idle sockets must not keep the process waiting.
process.exit(interrupted ? 130 : (process.exitCode ?? 0));
