// `npm run bench -- [--events 2000] [--concurrency 16] [--svix-latency-ms 0]`
// Throughput and latency of POST /notifications, end to end over HTTP: the relay as `npm start`
// builds it (buildContainer), listening on a port, with the Svix emulator as Svix. Uses
// DATABASE_URL when set (PostgreSQL), else an embedded database in a temporary folder.
// Three phases: new events (one Svix message each), the same events again (answered from the
// ledger), and invalid events (rejected by the schema).
import { mkdtempSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadConfig } from "../src/config.ts";
import { buildContainer } from "../src/container.ts";
import { SvixEmulator } from "../src/emulator/svixEmulator.ts";

const { values } = parseArgs({
  options: {
    events: { type: "string", default: "2000" },
    concurrency: { type: "string", default: "16" },
    "svix-latency-ms": { type: "string", default: "0" },
  },
});
const total = Number(values.events);
const concurrency = Number(values.concurrency);
const latency = Number(values["svix-latency-ms"]);

const emulator = new SvixEmulator({ apiKey: "bench" });
const svixUrl = await emulator.start();
if (latency > 0) emulator.faults.add({ kind: "latency", minMs: latency, maxMs: latency, operation: "message.create" });
const dataDir = mkdtempSync(join(tmpdir(), "relay-bench-"));
const config = loadConfig({
  LOG_LEVEL: "warn",
  DATA_DIR: dataDir,
  SVIX_API_KEY: "bench",
  SVIX_SERVER_URL: svixUrl,
  DISPATCH_ENABLED: "false",
  ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : {}),
});
const container = await buildContainer(config);
const server = container.app.listen(0, "127.0.0.1");
await new Promise((r) => server.once("listening", r));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/notifications`;

const run = `${Date.now().toString(36)}`;
const event = (i: number) => ({
  object: "event",
  id: `evt_bench_${run}_${i}`,
  data: { object: "user", id: `usr_${i}`, email: `user${i}@example.com` },
  datacontenttype: "application/json",
  project: `bench-project-${i % 10}`,
  source: "https://api.gigs.com",
  specversion: "1.0",
  time: "2026-11-27T00:00:00Z",
  type: "user.created",
  version: "2023-01-30",
});

async function phase(name: string, body: (i: number) => unknown, expected: number): Promise<void> {
  const latencies: number[] = [];
  let unexpected = 0;
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++;
        const t0 = performance.now();
        const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body(i)) });
        await res.arrayBuffer();
        latencies.push(performance.now() - t0);
        if (res.status !== expected) unexpected += 1;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]!.toFixed(1);
  process.stdout.write(
    `${name.padEnd(22)} ${String(total).padStart(6)} req  ${(total / seconds).toFixed(0).padStart(6)} req/s  p50 ${pct(50)} ms  p95 ${pct(95)} ms  p99 ${pct(99)} ms  unexpected status: ${unexpected}\n`,
  );
}

process.stdout.write(`relay bench: ${total} events, concurrency ${concurrency}, database ${container.db.kind}, Svix latency ${latency} ms\n`);
await phase("new events (200)", event, 200);
await phase("duplicates (200)", event, 200);
await phase("invalid events (400)", (i) => ({ ...event(i), time: "yesterday" }), 400);
process.stdout.write(`svix messages created: ${emulator.state.allMessages().length} (expected ${total})\n`);

await new Promise((r) => server.close(r));
await container.close();
await emulator.stop();
rmSync(dataDir, { recursive: true, force: true });
