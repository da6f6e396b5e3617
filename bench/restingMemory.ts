// `node bench/restingMemory.ts [--baseline DIR] [--tree NAME=DIR …] [--postgres] [--rounds N] [--settle S] [--sample S]`
// The relay's memory at rest: started as `npm start` starts it with nothing configured (no
// DATABASE_URL, no Svix key: the embedded PGlite in a fresh DATA_DIR and the built-in Svix
// emulator), left alone for --settle seconds (15), then its RSS sampled for --sample seconds (5;
// the median is reported), --rounds times (3). --baseline DIR runs the relay of another tree
// (e.g. `git archive` of an older commit, with node_modules and src/generated beside it) the same
// way, alternating with this one round by round; --tree NAME=DIR adds more trees (one per
// setting tried); --postgres adds the relay on a PostgreSQL database of its own (DATABASE_URL's
// server as in the bench, with the Svix emulator in its own process).
// Results: stdout and bench/results/resting-memory-<time>.json.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { freePort, sleep, startChild, stopChild, waitForHttp, type Child } from "./children.ts";
import { createBenchDatabase, DEFAULT_ADMIN_URL, type BenchDatabase } from "./database.ts";
import { rssMb } from "./procStats.ts";
import { BENCH_SVIX_KEY, relayArgs, startEmulator } from "./services.ts";
import { median } from "./scenarios/steady.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { values } = parseArgs({
  options: {
    baseline: { type: "string" },
    tree: { type: "string", multiple: true },
    postgres: { type: "boolean", default: false },
    rounds: { type: "string", default: "3" },
    settle: { type: "string", default: "15" },
    sample: { type: "string", default: "5" },
    help: { type: "boolean", default: false },
  },
});
if (values.help) {
  process.stdout.write(
    `${(await import("node:fs")).readFileSync(fileURLToPath(import.meta.url), "utf8").split("\nimport")[0]}\n`,
  );
  process.exit(0);
}
const rounds = Number(values.rounds);
const settleMs = Number(values.settle) * 1000;
const sampleMs = Number(values.sample) * 1000;
const stamp = new Date().toISOString().replace(/[:.]/g, "-");
const resultsDir = join(root, "bench", "results");
const logDir = join(resultsDir, "logs", `resting-memory-${stamp}`);
mkdirSync(logDir, { recursive: true });

/** The environment without anything that would configure the relay: a zero-configuration start. */
function bareEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of Object.keys(env))
    if (/^(DATABASE_URL|MIGRATE_DATABASE_URL|DATA_DIR|SVIX_|PORT|HOST|API_TOKENS|INGEST_|OPEN_API|OTEL_)/.test(key))
      delete env[key];
  return env;
}

interface Variant {
  name: string;
  start(logName: string): Promise<{ child: Child; cleanup: () => Promise<void> }>;
}

function pgliteVariant(name: string, tree: string): Variant {
  return {
    name,
    async start(logName) {
      const dataDir = mkdtempSync(join(tmpdir(), "relay-rest-"));
      const port = await freePort();
      const child = startChild({
        name: logName,
        args: relayArgs(tree),
        env: { ...bareEnv(), PORT: String(port), DATA_DIR: dataDir, LOG_LEVEL: "warn" },
        cwd: tree,
        logFile: join(logDir, `${logName}.log`),
      });
      await waitForHttp(child, `http://127.0.0.1:${port}/readyz`, 120_000);
      return { child, cleanup: async () => rmSync(dataDir, { recursive: true, force: true }) };
    },
  };
}

const children: Child[] = [];
let database: BenchDatabase | undefined;

async function main(): Promise<void> {
  const variants: Variant[] = [];
  if (values.baseline) variants.push(pgliteVariant("pglite before", values.baseline));
  for (const spec of values.tree ?? []) {
    const [name, dir] = spec.split("=");
    if (!name || !dir) throw new Error(`--tree NAME=DIR, not ${spec}`);
    variants.push(pgliteVariant(`pglite ${name}`, dir));
  }
  variants.push(pgliteVariant(values.baseline ? "pglite now" : "pglite", root));
  if (values.postgres) {
    database = await createBenchDatabase("postgres", process.env.DATABASE_URL || DEFAULT_ADMIN_URL);
    const emulator = await startEmulator(root, logDir, (c) => children.push(c));
    const db = database;
    variants.push({
      name: "postgres",
      async start(logName) {
        const port = await freePort();
        const child = startChild({
          name: logName,
          args: relayArgs(root),
          env: {
            ...bareEnv(),
            ...db.env,
            PORT: String(port),
            LOG_LEVEL: "warn",
            SVIX_API_KEY: BENCH_SVIX_KEY,
            SVIX_SERVER_URL: emulator.url,
            OPEN_API: "true",
          },
          cwd: root,
          logFile: join(logDir, `${logName}.log`),
        });
        await waitForHttp(child, `http://127.0.0.1:${port}/readyz`, 120_000);
        return { child, cleanup: async () => undefined };
      },
    });
  }
  const load = loadavg();
  process.stdout.write(
    `relay RSS at rest: ${variants.map((v) => v.name).join(", ")}; ${rounds} round(s), ${settleMs / 1000} s after /readyz, then the median of ${sampleMs / 1000} s of samples; load ${load.map((l) => l.toFixed(2)).join(" ")} on ${cpus().length} CPUs\n`,
  );
  const samples: Record<string, number[]> = Object.fromEntries(variants.map((v) => [v.name, []]));
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? variants : [...variants].reverse();
    for (const variant of order) {
      const { child, cleanup } = await variant.start(`${variant.name.replace(/\W+/g, "-")}-${round}`);
      children.push(child);
      await sleep(settleMs);
      const rss: number[] = [];
      for (const until = Date.now() + sampleMs; Date.now() < until; await sleep(250)) {
        const mb = rssMb(child.pid);
        if (mb !== undefined) rss.push(mb);
      }
      await stopChild(child);
      children.splice(children.indexOf(child), 1);
      await cleanup();
      const mb = median(rss);
      samples[variant.name]!.push(mb);
      process.stdout.write(`  round ${round + 1}  ${variant.name.padEnd(14)} ${mb.toFixed(1)} MB\n`);
    }
  }
  const summary = Object.fromEntries(
    Object.entries(samples).map(([name, mbs]) => [
      name,
      { medianMb: median(mbs), minMb: Math.min(...mbs), maxMb: Math.max(...mbs), rounds: mbs },
    ]),
  );
  for (const [name, s] of Object.entries(summary))
    process.stdout.write(
      `${name.padEnd(14)} median ${s.medianMb.toFixed(1)} MB (rounds ${s.minMb.toFixed(1)}–${s.maxMb.toFixed(1)})\n`,
    );
  const loadEnd = loadavg();
  process.stdout.write(
    `load average ${load.map((l) => l.toFixed(2)).join(" ")} → ${loadEnd.map((l) => l.toFixed(2)).join(" ")}\n`,
  );
  const file = join(resultsDir, `resting-memory-${stamp}.json`);
  writeFileSync(
    file,
    `${JSON.stringify({ at: new Date().toISOString(), rounds, settleMs, sampleMs, loadavgStart: load, loadavgEnd: loadEnd, baseline: values.baseline, summary }, null, 2)}\n`,
  );
  process.stdout.write(`results: ${file}\n`);
}

try {
  await main();
} catch (error) {
  process.stderr.write(
    `resting memory failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
} finally {
  for (const child of [...children].reverse()) await stopChild(child);
  await database?.drop().catch(() => undefined);
}
process.exit(process.exitCode ?? 0);
