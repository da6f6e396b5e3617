import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { SvixEmulator } from "../../src/emulator/svixEmulator.ts";
import { makeEvent } from "../helpers/events.ts";
import {
  createPullSubscription,
  publish,
  pullAndAck,
  startPubsubEmulator,
  type PubsubEmulator,
} from "../helpers/pubsubEmulator.ts";
import { freePort, startNodeProcess } from "../helpers/relayProcess.ts";
import { createPostgresDatabase, usingPostgres } from "../helpers/testDatabase.ts";
import { waitFor } from "../helpers/waitFor.ts";

// `npm run worker` as a real child process, pulling from Google's emulator and sending to our
// Svix emulator, on a database of its own.
let pubsub: PubsubEmulator;
beforeAll(async () => {
  pubsub = await startPubsubEmulator({ projectId: "gigs-pull" });
});
afterAll(() => pubsub.stop());

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const fn of cleanup.reverse()) await fn();
  cleanup = [];
});

interface Worker {
  child: ChildProcess;
  output: string[];
  exited: Promise<number | null>;
  port: number;
}

async function database(): Promise<Record<string, string>> {
  if (usingPostgres()) {
    const db = await createPostgresDatabase();
    cleanup.push(db.drop);
    return { DATABASE_URL: db.url };
  }
  // The embedded database serves one process: two workers need PostgreSQL.
  const dir = mkdtempSync(join(tmpdir(), "relay-worker-"));
  cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
  return { DATA_DIR: dir };
}

async function startWorker(env: Record<string, string>): Promise<Worker> {
  const port = await freePort();
  const worker = await startNodeProcess(
    "src/bin/worker.ts",
    { PUBSUB_EMULATOR_HOST: pubsub.host, ...env },
    "worker started",
    port,
  );
  cleanup.push(async () => {
    if (worker.child.exitCode === null) worker.child.kill("SIGKILL");
    await worker.exited;
  });
  return { ...worker, port };
}

async function svixEmulator(): Promise<{ emulator: SvixEmulator; env: Record<string, string> }> {
  const emulator = new SvixEmulator({ apiKey: "pull-key" });
  const url = await emulator.start();
  cleanup.push(() => emulator.stop());
  return { emulator, env: { SVIX_API_KEY: "pull-key", SVIX_SERVER_URL: url, DISPATCH_INTERVAL_MS: "200" } };
}

describe("npm run worker (streaming pull)", () => {
  it("drains a subscription while Svix throttles at 10/s: each event once, the poison quarantined, nothing left after SIGTERM", async () => {
    const { emulator, env } = await svixEmulator();
    emulator.faults.setRateLimit({ perSecond: 10, retryAfterSeconds: 1 });
    const subscription = await createPullSubscription(pubsub, "events-throttled", "relay-pull-throttled");
    const events = Array.from({ length: 40 }, () => makeEvent());
    for (const event of [...events, events[0]!, events[1]!])
      await publish(pubsub, "events-throttled", JSON.stringify(event));
    await publish(pubsub, "events-throttled", "{ broken");
    const worker = await startWorker({ ...env, ...(await database()), PUBSUB_SUBSCRIPTION: subscription });
    await waitFor(() => emulator.state.allMessages().length >= 40, 60_000, "40 messages in Svix");
    const metrics = await (await fetch(`http://127.0.0.1:${worker.port}/metrics`)).text();
    expect(metrics).toMatch(/relay_quarantined_total\{reason="invalid_json"\} 1\b/);
    expect(metrics).toMatch(/relay_pulled_messages_total\{result="acked",status="quarantined"\} 1\b/);
    worker.child.kill("SIGTERM");
    expect(await worker.exited).toBe(0);
    expect(
      emulator.state
        .allMessages()
        .map((m) => m.eventId)
        .sort(),
    ).toEqual(events.map((e) => e.id).sort());
    // Everything was acknowledged: nothing is left for another worker.
    expect(await pullAndAck(pubsub, subscription)).toEqual([]);
  });

  it("SIGTERM mid-stream, then a restarted worker: every event exactly once, nothing unacked", async () => {
    const { emulator, env } = await svixEmulator();
    emulator.faults.add({ kind: "latency", minMs: 100, maxMs: 300, operation: "message.create" });
    const subscription = await createPullSubscription(pubsub, "events-restart", "relay-pull-restart");
    const common = { ...env, ...(await database()), PUBSUB_SUBSCRIPTION: subscription, PULL_MAX_MESSAGES: "8" };
    const events = Array.from({ length: 40 }, () => makeEvent());
    for (const event of events) await publish(pubsub, "events-restart", JSON.stringify(event));
    const first = await startWorker(common);
    await waitFor(() => emulator.state.allMessages().length >= 10, 60_000, "10 messages in Svix");
    first.child.kill("SIGTERM");
    expect(await first.exited).toBe(0);
    expect(first.output.some((l) => l.includes('"stopped"'))).toBe(true);
    const second = await startWorker(common);
    await waitFor(() => emulator.state.allMessages().length >= 40, 60_000, "40 messages in Svix");
    second.child.kill("SIGTERM");
    expect(await second.exited).toBe(0);
    expect(
      emulator.state
        .allMessages()
        .map((m) => m.eventId)
        .sort(),
    ).toEqual(events.map((e) => e.id).sort());
    expect(await pullAndAck(pubsub, subscription)).toEqual([]);
  });

  // Two worker processes share a database only on PostgreSQL (the embedded one serves one
  // process); CI's second run, on PostgreSQL, runs this.
  it.runIf(usingPostgres())(
    "two workers on one subscription, one stopped mid-stream: every event exactly once",
    async () => {
      const { emulator, env } = await svixEmulator();
      emulator.faults.add({ kind: "latency", minMs: 100, maxMs: 300, operation: "message.create" });
      const subscription = await createPullSubscription(pubsub, "events-shared", "relay-pull-shared");
      const common = { ...env, ...(await database()), PUBSUB_SUBSCRIPTION: subscription, PULL_MAX_MESSAGES: "8" };
      const [first, second] = await Promise.all([startWorker(common), startWorker(common)]);
      const events = Array.from({ length: 60 }, () => makeEvent());
      for (const event of events) await publish(pubsub, "events-shared", JSON.stringify(event));
      await waitFor(() => emulator.state.allMessages().length >= 15, 60_000, "15 messages in Svix");
      first!.child.kill("SIGTERM");
      expect(await first!.exited).toBe(0);
      await waitFor(() => emulator.state.allMessages().length >= 60, 60_000, "60 messages in Svix");
      second!.child.kill("SIGTERM");
      expect(await second!.exited).toBe(0);
      expect(
        emulator.state
          .allMessages()
          .map((m) => m.eventId)
          .sort(),
      ).toEqual(events.map((e) => e.id).sort());
      expect(await pullAndAck(pubsub, subscription)).toEqual([]);
    },
  );
});
