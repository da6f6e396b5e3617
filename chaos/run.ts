// `npm run chaos -- --seconds N --seed S [--svix-url URL] [--json FILE] [--keep]`: the whole
// relay for real — its own PostgreSQL, Google's Pub/Sub emulator, two relays behind a
// round-robin proxy (push), a pull worker, and Svix (our emulator, or --svix-url) — under a
// seeded schedule of faults, then drained and checked against what was published. See README, Chaos.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { PubSub } from "@google-cloud/pubsub";
import pg from "pg";
import { check } from "./checker.ts";
import { drain } from "./drain.ts";
import { FaultRunner, Service } from "./faultRunner.ts";
import {
  deliveredCount,
  emulatorMessages,
  leftovers,
  ledgerStatuses,
  quarantinedMessageIds,
  svixServerMessages,
} from "./observe.ts";
import { RoundRobinProxy } from "./proxy.ts";
import { Publisher } from "./publisher.ts";
import { buildReport, type ChaosReport, progressLine, summaryTable } from "./report.ts";
import { buildSchedule, describeFault } from "./schedule.ts";
import {
  type Database,
  freePort,
  proxiedDatabase,
  sleep,
  startDatabase,
  startPubsubEmulator,
  startSvixEmulator,
  Supervisor,
} from "./system.ts";

const HELP = `npm run chaos -- --seconds N --seed S [--svix-url URL] [--json FILE] [--keep]

  --seconds N        how long to publish (default 60); the drain and the checks follow
  --seed S           the seed of the fault schedule and the events (default: random, printed)
  --rate R           messages published per second (default 150)
  --svix-url URL     a Svix-compatible server instead of our emulator (no Svix faults injected)
  --svix-key KEY     its API key (default SVIX_API_KEY, else "chaos-key")
  --drain-timeout S  longest wait for the system to settle after publishing (default 120)
  --json FILE        write the report as JSON
  --keep             leave the processes' logs and data in place (the path is printed)
DATABASE_URL: use that PostgreSQL (interrupted through a TCP proxy) instead of one of its own.
Exit 0 only when every valid event is in Svix exactly once and every other check passes.
`;

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "60" },
    seed: { type: "string" },
    rate: { type: "string", default: "150" },
    "svix-url": { type: "string" },
    "svix-key": { type: "string" },
    "drain-timeout": { type: "string", default: "120" },
    json: { type: "string" },
    keep: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});
if (values.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
function intOption(name: string, value: string | undefined, min: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) {
    process.stderr.write(`--${name} must be an integer ≥ ${min}\n${HELP}`);
    process.exit(2);
  }
  return n;
}
const seconds = intOption("seconds", values.seconds, 5);
const seed = intOption("seed", values.seed ?? String(Math.floor(Math.random() * 1_000_000)), 0);
const rate = intOption("rate", values.rate, 1);
const drainTimeoutMs = intOption("drain-timeout", values["drain-timeout"], 1) * 1000;
const externalSvix = values["svix-url"];
const svixKey = values["svix-key"] ?? process.env.SVIX_API_KEY ?? "chaos-key";
const PROJECT = "chaos-project";
const say = (line: string) => process.stdout.write(`${line}\n`);

const wallStart = Date.now();
const runDir = mkdtempSync(join(tmpdir(), `chaos-${seed}-`));
chmodSync(runDir, 0o755);
const supervisor = new Supervisor(runDir);
const proxy = new RoundRobinProxy(() => relays.map((r) => r.port));
const relays: Service[] = [];
let pool: pg.Pool | undefined;
let pubsub: PubSub | undefined;
let closeDatabaseProxy: (() => void) | undefined;
let svixUrlForKeep = "";
let pubsubHostForKeep = "";
let proxyUrlForKeep = "";

async function cleanUp(): Promise<void> {
  await Promise.allSettled([proxy.close(), pool?.end(), pubsub?.close()]);
  closeDatabaseProxy?.();
  if (values.keep) {
    supervisor.keepOnExit = true;
    say(`--keep: logs and data in ${runDir}; still running (stop each with kill -- -PID):`);
    for (const line of supervisor.running()) say(`  ${line}`);
    say(
      `  Svix ${svixUrlForKeep}, Pub/Sub emulator ${pubsubHostForKeep}, relays behind ${proxyUrlForKeep} (the proxy ends with this run)`,
    );
    return;
  }
  await supervisor.end();
  rmSync(runDir, { recursive: true, force: true });
}
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    say(`\n${signal}: stopping everything (seed ${seed})`);
    void cleanUp().finally(() => process.exit(130));
  });
}

const schedule = buildSchedule({ seed, seconds, svixFaults: !externalSvix });
say(
  `chaos: seed ${seed}, ${seconds} s at ${rate} messages/s, Svix: ${externalSvix ?? "our emulator"}; run dir ${runDir}`,
);
say(`fault schedule:\n${schedule.map((f) => `  ${describeFault(f)}`).join("\n")}`);

// ---- the system ---------------------------------------------------------------------------------
say("starting PostgreSQL, Google's Pub/Sub emulator and Svix…");
const [database, pubsubEmulator, svix] = await Promise.all([
  (async (): Promise<{ db: Database; directUrl: string }> => {
    const given = process.env.DATABASE_URL;
    if (!given) {
      const db = await startDatabase(supervisor);
      return { db, directUrl: db.url };
    }
    const db = await proxiedDatabase(given);
    closeDatabaseProxy = db.close;
    return { db, directUrl: given };
  })(),
  startPubsubEmulator(supervisor),
  externalSvix ? Promise.resolve({ url: externalSvix }) : startSvixEmulator(supervisor),
]);
const migrate = supervisor.spawn("migrate", process.execPath, ["src/bin/migrate.ts"], {
  env: { ...process.env, DATABASE_URL: database.directUrl },
});
if ((await migrate.exited) !== "0") throw new Error(`migrations failed: see ${migrate.logFile}`);
pool = new pg.Pool({
  connectionString: database.directUrl,
  max: 2,
  connectionTimeoutMillis: 2000,
  query_timeout: 10_000,
});
pool.on("error", () => {});

pubsub = new PubSub({
  projectId: PROJECT,
  apiEndpoint: pubsubEmulator.host,
  emulatorMode: true,
  universeDomain: "googleapis.com",
});
const [topic] = await pubsub.createTopic("chaos-events");
const [deadLetterTopic] = await pubsub.createTopic("chaos-dead-letter");
await deadLetterTopic.createSubscription("chaos-dead-letter-sub");
const proxyUrl = await proxy.listen(await freePort());
svixUrlForKeep = svix.url;
pubsubHostForKeep = pubsubEmulator.host;
proxyUrlForKeep = proxyUrl;
const [pushSubscription] = await topic.createSubscription("relay-push", {
  pushConfig: { pushEndpoint: `${proxyUrl}/notifications` },
  ackDeadlineSeconds: 10,
  deadLetterPolicy: { deadLetterTopic: deadLetterTopic.name, maxDeliveryAttempts: 20 },
  // No retryPolicy: Google's emulator (tried with 1 s–10 s) never redelivers some of the pushes it
  // got a 503 for, nor lets them be pulled — ~30 % of a burst of 1,000 were simply gone. Without
  // one it redelivers at once, which loses nothing.
});
await topic.createSubscription("relay-pull", { ackDeadlineSeconds: 10 });

const relayEnv: NodeJS.ProcessEnv = {
  DATABASE_URL: database.db.url,
  SVIX_API_KEY: svixKey,
  SVIX_SERVER_URL: svix.url,
  NODE_ENV: "development",
  OPEN_API: "true",
  LOG_LEVEL: "warn",
  MIGRATE_ON_START: "false",
};
const faultsRunner: { current?: FaultRunner } = {};
const onUnexpectedExit = (service: Service, how: string, log: string) => {
  const runner = faultsRunner.current;
  if (runner) {
    runner.counts.unexpectedExits += 1;
    runner.note(`${service.name} DIED on its own (${how}); restarting. Its last lines:\n${log}`);
  }
  say(`!! ${service.name} exited on its own (${how}); restarting it`);
};
for (const i of [0, 1]) {
  relays.push(new Service(`relay${i}`, "src/bin/relay.ts", relayEnv, await freePort(), supervisor, onUnexpectedExit));
}
const worker = new Service(
  "worker",
  "src/bin/worker.ts",
  {
    ...relayEnv,
    PUBSUB_SUBSCRIPTION: `projects/${PROJECT}/subscriptions/relay-pull`,
    PUBSUB_EMULATOR_HOST: pubsubEmulator.host,
  },
  await freePort(),
  supervisor,
  onUnexpectedExit,
);
say("starting two relays and the pull worker…");
await Promise.all([...relays, worker].map((s) => s.start()));
const emulatorUrl = externalSvix ? undefined : svix.url;
const runner = new FaultRunner({ relays, worker, database: database.db, emulatorUrl });
faultsRunner.current = runner;

// ---- publish under faults ----------------------------------------------------------------------
const sql = pool;
const publisher = new Publisher({
  topic,
  seed,
  rate,
  isRecorded: async (id) => (await sql.query("SELECT 1 FROM notifications WHERE event_id = $1", [id])).rowCount === 1,
});
const svixMessages = () => (emulatorUrl ? emulatorMessages(emulatorUrl) : svixServerMessages(svix.url, svixKey));
const publishStart = Date.now();
publisher.start();
runner.start(schedule);
say(`publishing for ${seconds} s (system up in ${((publishStart - wallStart) / 1000).toFixed(1)} s)`);
const progress = setInterval(async () => {
  const [inSvix, delivered] = await Promise.all([
    emulatorUrl
      ? emulatorMessages(emulatorUrl).then(
          (m) => m.length,
          () => undefined,
        )
      : undefined,
    deliveredCount(sql).catch(() => undefined),
  ]);
  say(progressLine((Date.now() - publishStart) / 1000, publisher.stats, inSvix, delivered, runner.counts));
}, 5000);
await sleep(seconds * 1000);
await publisher.stop();
await runner.finish();
if (emulatorUrl) await fetch(`${emulatorUrl}/_emulator/faults`, { method: "DELETE" });
const publishEnd = Date.now();
runner.note(`publishing ended: ${publisher.stats.messages} messages, ${publisher.stats.unique} unique events`);

// ---- drain: until Svix, the ledger and the quarantine have everything and pushes stopped ---------
const relayUrl = () => `http://127.0.0.1:${(relays.find((r) => !r.down) ?? relays[0]!).port}`;
const checkNow = async (withSvix: boolean) => {
  const [quarantined, ledger] = await Promise.all([quarantinedMessageIds(relayUrl()), ledgerStatuses(sql)]);
  const result = check({
    events: [...publisher.events.values()],
    uncertain: publisher.uncertain,
    svix: withSvix ? await svixMessages() : [],
    poison: publisher.poison,
    quarantined,
    ledger,
    unacked: 0,
  });
  // Without Svix's list, only the ledger and the quarantine count.
  return withSvix ? result.problems : result.problems.filter((p) => !/lost|duplicated|not published/.test(p));
};
const { timedOut: drainTimedOut } = await drain({
  startedAt: publishEnd,
  timeoutMs: drainTimeoutMs,
  proxy,
  workerMetricsUrl: `http://127.0.0.1:${worker.port}/metrics`,
  lastWorkerKillAt: () => runner.lastWorkerKillAt,
  problems: checkNow,
  say,
});
clearInterval(progress);
const drainSeconds = (Date.now() - publishEnd) / 1000;
runner.note(`settled after ${drainSeconds.toFixed(1)} s${drainTimedOut ? " (timed out)" : ""}`);

// ---- what is left on the subscriptions, then the verdict --------------------------------------
await worker.stop();
await pushSubscription.modifyPushConfig({});
// Quiet for longer than the ack deadline (10 s): a message leased by a push or a killed worker
// becomes pullable again only when its lease expires.
const [pushLeft, pullLeft, deadLetters] = await Promise.all([
  leftovers(pubsubEmulator.host, pushSubscription.name, 12_000),
  leftovers(pubsubEmulator.host, `projects/${PROJECT}/subscriptions/relay-pull`, 12_000),
  leftovers(pubsubEmulator.host, `projects/${PROJECT}/subscriptions/chaos-dead-letter-sub`, 500),
]);
const [svixHeld, quarantined, ledger] = await Promise.all([
  svixMessages(),
  quarantinedMessageIds(relayUrl()),
  ledgerStatuses(sql).catch(() => undefined),
]);
const result = check({
  events: [...publisher.events.values()],
  uncertain: publisher.uncertain,
  svix: svixHeld,
  poison: publisher.poison,
  quarantined,
  ledger,
  unacked: pushLeft.size + pullLeft.size,
});
const report: ChaosReport = buildReport(
  {
    seed,
    seconds,
    svix: externalSvix ?? "emulator",
    published: publisher.stats.messages,
    unique: publisher.stats.unique,
    repeats: publisher.stats.repeats,
    poison: publisher.poison.length,
    events: [...publisher.events.keys()],
    quarantined: publisher.poison.length - result.unquarantined.length,
    deadLettered: deadLetters.size,
    faults: runner.counts,
    drainSeconds,
    drainTimedOut,
    wallSeconds: (Date.now() - wallStart) / 1000,
    pushAnswers: Object.fromEntries(proxy.answers),
    pushNeverAcknowledged: 0,
    timeline: runner.timeline,
  },
  result,
);
// Every published message must have been acknowledged on the push subscription by a relay's 2xx
// (or be among the leftovers or dead letters): anything else left Pub/Sub without the relay's word.
const neverAcknowledged = [...publisher.messageIds].filter(
  (id) => !proxy.acknowledged.has(id) && !pushLeft.has(id) && !deadLetters.has(id),
);
report.pushNeverAcknowledged = neverAcknowledged.length;
if (neverAcknowledged.length > 0)
  report.problems.push(
    `${neverAcknowledged.length} message(s) left the push subscription without a relay's 2xx: ${neverAcknowledged.slice(0, 10).join(", ")}`,
  );
if (pushLeft.size + pullLeft.size > 0) {
  const at = [...pushLeft, ...pullLeft].map((id) => publisher.publishedAt.get(id)).filter((t) => t !== undefined);
  const when = at.length
    ? `, published ${((Math.min(...at) - publishStart) / 1000).toFixed(1)}–${((Math.max(...at) - publishStart) / 1000).toFixed(1)} s`
    : "";
  report.problems.push(`left on the subscriptions: push ${pushLeft.size}, pull ${pullLeft.size}${when}`);
}
report.ok = report.problems.length === 0;
say(`\nchaos summary\n${summaryTable(report)}`);
if (values.json) writeFileSync(values.json, `${JSON.stringify(report, null, 2)}\n`);
if (!report.ok) {
  say(`\nFAILED (seed ${seed}):\n  ${report.problems.join("\n  ")}`);
  say(`timeline of faults:\n${runner.timeline.map((l) => `  ${l}`).join("\n")}`);
  say(
    `rerun: npm run chaos -- --seconds ${seconds} --seed ${seed}${externalSvix ? ` --svix-url ${externalSvix}` : ""} --keep`,
  );
  say(`logs: ${supervisor.logDir}${values.keep ? "" : " (removed; rerun with --keep to keep them)"}`);
}
await cleanUp();
process.exit(report.ok ? 0 : 1);
