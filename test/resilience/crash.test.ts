import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SvixEmulator } from "../../src/emulator/svixEmulator.ts";
import { makeEvent, wrapped } from "../helpers/events.ts";
import { postNotification, pushUntilAcked, startRelayProcess, type RelayProcess } from "../helpers/relayProcess.ts";
import { createPostgresDatabase, usingPostgres } from "../helpers/testDatabase.ts";

// kill -9 the relay (a real child process running src/bin/relay.ts) at chosen moments, restart it on
// the same database, let Pub/Sub-style redelivery run, and compare Svix with the ledger.
let emulator: SvixEmulator;
let env: Record<string, string>;
let cleanup: () => Promise<void>;
let relay: RelayProcess | undefined;

beforeEach(async () => {
  emulator = new SvixEmulator({ apiKey: "crash-key" });
  const svixUrl = await emulator.start();
  env = {
    SVIX_API_KEY: "crash-key",
    SVIX_SERVER_URL: svixUrl,
    SVIX_TIMEOUT_MS: "1000",
    REQUEST_BUDGET_MS: "1500",
    CLAIM_TTL_MS: "2000",
    // The dispatcher takes over what a killed process left claimed, once its claim expires.
    DISPATCH_ENABLED: "true",
    DISPATCH_INTERVAL_MS: "200",
  };
  if (usingPostgres()) {
    const db = await createPostgresDatabase();
    env.DATABASE_URL = db.url;
    cleanup = db.drop;
  } else {
    const dir = mkdtempSync(join(tmpdir(), "relay-crash-"));
    env.DATA_DIR = dir;
    cleanup = async () => rmSync(dir, { recursive: true, force: true });
  }
});

afterEach(async () => {
  relay?.child.kill("SIGKILL");
  await relay?.exited;
  relay = undefined;
  await emulator.stop();
  await cleanup();
});

async function killHard(): Promise<void> {
  relay!.child.kill("SIGKILL");
  await relay!.exited;
}

async function waitFor(condition: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The ledger as the relay reports it, once every notification in it is delivered. */
async function ledger(expected: number): Promise<Map<string, { status: string; svixMessageId: string | null }>> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const res = await fetch(`${relay!.url}/notifications?limit=500`);
    const body = (await res.json()) as {
      data: Array<{ eventId: string; status: string; svixMessageId: string | null }>;
    };
    const rows = new Map(body.data.map((n) => [n.eventId, n]));
    if ((rows.size >= expected && [...rows.values()].every((r) => r.status === "delivered")) || Date.now() > deadline)
      return rows;
    await new Promise((r) => setTimeout(r, 100));
  }
}

function expectExactlyOnce(
  eventIds: string[],
  rows: Map<string, { status: string; svixMessageId: string | null }>,
): void {
  const messages = emulator.state.allMessages();
  expect(messages.map((m) => m.eventId).sort()).toEqual([...eventIds].sort());
  expect(rows.size).toBe(eventIds.length);
  for (const m of messages) {
    const row = rows.get(m.eventId!);
    expect(row?.status).toBe("delivered");
  }
}

describe("crashes (kill -9) and restarts", () => {
  it("loses and duplicates nothing when killed twice with requests in flight and Svix answering in 100–300 ms", async () => {
    emulator.faults.add({ kind: "latency", minMs: 100, maxMs: 300, operation: "message.create" });
    relay = await startRelayProcess(env);
    const port = new URL(relay.url).port;
    const events = Array.from({ length: 30 }, (_, i) => makeEvent({ project: `project-${i % 3}` }));
    let acked = 0;
    const pushes = Promise.all(
      events.map((e) => pushUntilAcked(() => relay!.url, wrapped(e)).then(() => (acked += 1))),
    );
    const inSvixAtKill: number[] = [];
    const ackedAtKill: number[] = [];
    for (let kill = 0; kill < 2; kill += 1) {
      await waitFor(() => emulator.state.allMessages().length > (kill + 1) * 5);
      inSvixAtKill.push(emulator.state.allMessages().length);
      ackedAtKill.push(acked);
      await killHard();
      relay = await startRelayProcess(env, Number(port));
    }
    await pushes;
    // Killed while Svix calls were under way: pushes answered on commit, not all of them in Svix yet.
    expect(inSvixAtKill[0]).toBeLessThan(events.length);
    expect(ackedAtKill[0]).toBeGreaterThan(inSvixAtKill[0]!);
    const rows = await ledger(events.length);
    expectExactlyOnce(
      events.map((e) => e.id),
      rows,
    );
    // Every row that names a message names the one Svix holds (Svix's 409 leaves none to name).
    const byEvent = new Map(emulator.state.allMessages().map((m) => [m.eventId, m.id]));
    for (const [eventId, row] of rows)
      if (row.svixMessageId !== null) expect(row.svixMessageId).toBe(byEvent.get(eventId));
  });

  /**
   * Holds one event's message.create in the emulator (phase "before": Svix has not acted; "after":
   * the message exists, the answer is withheld), kills the relay there, restarts it on the same
   * database and redelivers until acknowledged.
   */
  async function crashWhileSvixHolds(phase: "before" | "after", beforeRestart: () => void = () => undefined) {
    emulator.faults.add({ kind: "hang", operation: "message.create", phase, times: 1 });
    relay = await startRelayProcess(env);
    const port = Number(new URL(relay.url).port);
    const event = makeEvent();
    void postNotification(relay.url, event).catch(() => undefined);
    await waitFor(() =>
      phase === "after"
        ? emulator.state.allMessages().length === 1
        : emulator.calls.some((c) => c.operation === "message.create"),
    );
    await killHard();
    beforeRestart();
    relay = await startRelayProcess(env, port);
    // The redelivery finds the ledger owns the event (the dead process's claim); the dispatcher
    // takes it over once the claim expires.
    const statuses = await pushUntilAcked(() => relay!.url, event);
    const rows = await ledger(1);
    expectExactlyOnce([event.id], rows);
    const attempts = (await (await fetch(`${relay!.url}/notifications/${event.id}`)).json()) as {
      data: { attempts: Array<{ trigger: string; outcome: string; httpStatus?: number; svixMessageId?: string }> };
    };
    return { statuses, row: rows.get(event.id), attempts: attempts.data.attempts };
  }

  it("between Svix's 2xx and the ledger commit: the idempotency key returns the same message after restart", async () => {
    const { statuses, row, attempts } = await crashWhileSvixHolds("after");
    expect([200, 202]).toContain(statuses.at(-1));
    expect(row?.svixMessageId).toBe(emulator.state.allMessages()[0]?.id);
    expect(attempts.map((a) => `${a.trigger}:${a.outcome}`)).toEqual(["dispatch:delivered"]);
  });

  it("between Svix's 2xx and the commit, with the idempotency key forgotten: Svix's 409 on the event id counts as delivered", async () => {
    const { attempts } = await crashWhileSvixHolds("after", () => emulator.state.idempotency.clear());
    expect(attempts.map((a) => `${a.trigger}:${a.outcome}:${a.httpStatus}`)).toEqual(["dispatch:duplicate:409"]);
  });

  it("during the Svix call, before Svix acted: the event is sent once after restart", async () => {
    const { attempts } = await crashWhileSvixHolds("before");
    expect(attempts.map((a) => `${a.trigger}:${a.outcome}`)).toEqual(["dispatch:delivered"]);
  });

  it("after the answer on commit, before Svix acted: Pub/Sub has its 200, and the event is sent once after restart", async () => {
    emulator.faults.add({ kind: "hang", operation: "message.create", phase: "before", times: 1 });
    relay = await startRelayProcess(env);
    const port = Number(new URL(relay.url).port);
    const event = makeEvent();
    const pushed = await postNotification(relay.url, wrapped(event));
    expect(pushed.status).toBe(200);
    expect(((await pushed.json()) as { data: { status: string } }).data.status).toBe("accepted");
    await waitFor(() => emulator.calls.some((c) => c.operation === "message.create"));
    await killHard();
    // Pub/Sub has been answered: nothing redelivers it. The claim the dead process held expires,
    // and the restarted relay's dispatcher sends it.
    relay = await startRelayProcess(env, port);
    const rows = await ledger(1);
    expectExactlyOnce([event.id], rows);
  });
});

describe("SIGTERM with deliveries under way after their answer", () => {
  it("lets them finish within SHUTDOWN_TIMEOUT_MS and hands back the rest, due at once, not after the claim's expiry", async () => {
    // Claims of a minute: an event sent again within seconds was handed back, not left to expire.
    const slow = {
      ...env,
      CLAIM_TTL_MS: "60000",
      REQUEST_BUDGET_MS: "20000",
      SVIX_TIMEOUT_MS: "20000",
      SHUTDOWN_TIMEOUT_MS: "1500",
    };
    emulator.faults.add({ kind: "latency", minMs: 300, maxMs: 300, operation: "message.create", times: 1 });
    emulator.faults.add({ kind: "hang", operation: "message.create", phase: "before", times: 1 });
    relay = await startRelayProcess(slow);
    const port = Number(new URL(relay.url).port);
    const quick = makeEvent();
    const stuck = makeEvent();
    for (const event of [quick, stuck]) {
      const res = await postNotification(relay.url, wrapped(event));
      expect(res.status).toBe(200);
      await waitFor(() => emulator.calls.filter((c) => c.operation === "message.create").length >= 1);
    }
    await waitFor(() => emulator.calls.filter((c) => c.operation === "message.create").length >= 2);
    const stopping = performance.now();
    relay.child.kill("SIGTERM");
    expect(await relay.exited).toBe(0);
    expect(performance.now() - stopping).toBeLessThan(5000);
    const handedBack = relay.output.find((line) => line.includes("handed back, due at once"));
    // Only the stuck one: the quick one's delivery finished within the shutdown's time.
    expect(JSON.parse(handedBack ?? "{}")).toMatchObject({ released: 1 });
    // The quick one finished before the exit; the stuck one goes to the next instance at once.
    relay = await startRelayProcess(slow, port);
    const started = performance.now();
    const rows = await ledger(2);
    expect(performance.now() - started).toBeLessThan(15_000);
    expectExactlyOnce([quick.id, stuck.id], rows);
  });

  it("takes SHUTDOWN_TIMEOUT_MS for the whole shutdown, not once for the HTTP drain and again for the deliveries", async () => {
    const shutdownMs = 4000;
    const slow = {
      ...env,
      CLAIM_TTL_MS: "60000",
      REQUEST_BUDGET_MS: "30000",
      SVIX_TIMEOUT_MS: "30000",
      SHUTDOWN_TIMEOUT_MS: String(shutdownMs),
    };
    emulator.faults.add({ kind: "hang", operation: "message.create", phase: "before", times: 2 });
    relay = await startRelayProcess(slow);
    // A push answered on commit whose Svix call hangs (a delivery after its answer)…
    const pushed = makeEvent();
    const res = await postNotification(relay.url, wrapped(pushed));
    expect(res.status).toBe(200);
    // …and a direct post waiting for its hanging Svix call (a request the HTTP drain waits for).
    const posted = postNotification(relay.url, makeEvent()).then(
      (r) => r.status,
      () => "cut",
    );
    await waitFor(() => emulator.calls.filter((c) => c.operation === "message.create").length >= 2);
    const stopping = performance.now();
    relay.child.kill("SIGTERM");
    expect(await relay.exited).toBe(0);
    const tookMs = performance.now() - stopping;
    // The drain used the whole budget (the post never finished); the deliveries got what was left:
    // none, so they were handed back at once. Twice the budget before the shared deadline.
    expect(tookMs).toBeGreaterThan(shutdownMs - 500);
    expect(tookMs).toBeLessThan(shutdownMs + 2500);
    expect(await posted).toBe("cut");
    const handedBack = relay.output.find((line) => line.includes("handed back, due at once"));
    expect(JSON.parse(handedBack ?? "{}")).toMatchObject({ released: 1 });
  });
});
