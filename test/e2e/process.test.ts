import { spawn } from "node:child_process";
import { createServer, type AddressInfo } from "node:net";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Svix } from "svix";
import { afterEach, describe, expect, it } from "vitest";
import { SvixEmulator } from "../../src/emulator/svixEmulator.ts";
import { makeEvent } from "../helpers/events.ts";
import { freePort, startRelayProcess, type RelayProcess } from "../helpers/relayProcess.ts";

// The relay as a user runs it: `npm start`'s command in a child process, over real HTTP.
const EXAMPLES = join(import.meta.dirname, "..", "..", "examples", "events");
let relay: RelayProcess | undefined;
let dirs: string[] = [];
afterEach(async () => {
  relay?.child.kill("SIGKILL");
  await relay?.exited;
  relay = undefined;
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "relay-e2e-"));
  dirs.push(dir);
  return dir;
}

async function postFile(url: string, file: string): Promise<Response> {
  return fetch(`${url}/notifications`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: readFileSync(file),
  });
}

describe("zero-configuration start", () => {
  it("runs on the embedded database and the in-process emulator; posting the examples twice creates nothing new", async () => {
    const emulatorPort = await freePort();
    // No DATABASE_URL, no SVIX_*: only where to keep data and where the emulator listens (to count messages).
    relay = await startRelayProcess({ DATA_DIR: tempDir(), SVIX_EMULATOR_PORT: String(emulatorPort) });
    expect(
      relay.output.some((l) => l.includes("in-process Svix emulator") && l.includes("no webhook leaves this machine")),
    ).toBe(true);
    const files = readdirSync(EXAMPLES)
      .filter((f) => f.endsWith(".json"))
      .map((f) => join(EXAMPLES, f));
    expect(files.length).toBeGreaterThanOrEqual(3);
    const answers = async () =>
      Promise.all(
        files.map(async (f) => {
          const res = await postFile(relay!.url, f);
          return { status: res.status, body: (await res.json()) as { data: { status: string; duplicate: boolean } } };
        }),
      );
    const first = await answers();
    expect(first.map((a) => [a.status, a.body.data.status, a.body.data.duplicate])).toEqual(
      files.map(() => [200, "delivered", false]),
    );
    const second = await answers();
    expect(second.map((a) => [a.status, a.body.data.duplicate])).toEqual(files.map(() => [200, true]));

    // Count through Svix's own API, with the real SDK, on the emulator the relay started.
    const svix = new Svix("any-key", { serverUrl: `http://127.0.0.1:${emulatorPort}` });
    const projects = new Set(files.map((f) => (JSON.parse(readFileSync(f, "utf8")) as { project: string }).project));
    let total = 0;
    for (const project of projects) total += (await svix.message.list(project)).data.length;
    expect(total).toBe(files.length);
  });

  it("shuts down gracefully on SIGTERM: refuses new requests, finishes the one in flight, then exits 0", async () => {
    const emulator = new SvixEmulator({ apiKey: "k" });
    const svixUrl = await emulator.start();
    try {
      emulator.faults.add({ kind: "latency", minMs: 2000, maxMs: 2000, operation: "message.create" });
      relay = await startRelayProcess({ DATA_DIR: tempDir(), SVIX_API_KEY: "k", SVIX_SERVER_URL: svixUrl });
      const event = makeEvent();
      const inFlight = fetch(`${relay.url}/notifications`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(event),
      });
      // In flight for sure: Svix has the call (and holds it for 2 s).
      const deadline = Date.now() + 10_000;
      while (
        !emulator.calls.some((c) => c.operation === "message.create") &&
        !emulator.state.allMessages().length &&
        Date.now() < deadline
      ) {
        await new Promise((r) => setTimeout(r, 20));
      }
      relay.child.kill("SIGTERM");
      while (!relay.output.some((l) => l.includes("shutting down")) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      // A new request after the signal is refused (no new connections), or told the relay is not ready.
      const late = await fetch(`${relay.url}/readyz`).then(
        (r) => r.status,
        () => "refused",
      );
      expect([503, "refused"]).toContain(late);
      const answer = await inFlight;
      expect(answer.status).toBe(200);
      expect(((await answer.json()) as { data: { status: string } }).data.status).toBe("delivered");
      expect(await relay.exited).toBe(0);
      expect(relay.output.some((l) => l.includes('"stopped"'))).toBe(true);
      expect(emulator.state.allMessages().map((m) => m.eventId)).toEqual([event.id]);
    } finally {
      await emulator.stop();
    }
  });
});

describe("configuration errors", () => {
  async function run(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
    const child = spawn(process.execPath, ["src/bin/relay.ts"], {
      cwd: join(import.meta.dirname, "..", ".."),
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr.on("data", (c: Buffer) => (output += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    return { code, output };
  }

  it("refuses, in one process each, the seven misconfigurations an attacker would love, naming the variable", async () => {
    const emulator = new SvixEmulator({ apiKey: "the-real-key" });
    const svixUrl = await emulator.start();
    const prod = {
      NODE_ENV: "production",
      SVIX_API_KEY: "the-real-key",
      SVIX_SERVER_URL: svixUrl,
      DATABASE_URL: "postgresql://relay@127.0.0.1:1/never-reached",
      INGEST_TOKENS: "ingest-token-0123456789",
    };
    try {
      const cases: Array<[string, Record<string, string>, RegExp]> = [
        [
          "staging with a database and no Svix key",
          { ...prod, NODE_ENV: "staging", SVIX_API_KEY: "", SVIX_SERVER_URL: "" },
          /SVIX_API_KEY is required when NODE_ENV=staging/,
        ],
        [
          "production with no ingest credential",
          { ...prod, INGEST_TOKENS: "" },
          /PUBSUB_AUDIENCE or INGEST_TOKENS is required/,
        ],
        ["a Svix URL that is not a URL", { ...prod, SVIX_SERVER_URL: "http://" }, /SVIX_SERVER_URL is not a URL/],
        ["a short token", { ...prod, API_TOKENS: "hunter2" }, /API_TOKENS: every token must be at least 16 characters/],
        ["a Svix key Svix refuses", { ...prod, SVIX_API_KEY: "a-wrong-key" }, /SVIX_API_KEY was refused by Svix/],
        [
          "development with a real Svix key and database but no credential: an open API by accident",
          { SVIX_API_KEY: "the-real-key", SVIX_SERVER_URL: svixUrl, DATABASE_URL: prod.DATABASE_URL },
          /No credential is configured .*INGEST_TOKENS .*API_TOKENS .*OPEN_API=true/,
        ],
        [
          "Production spelled with a capital",
          { NODE_ENV: "Production", DATA_DIR: tempDir() },
          /DATABASE_URL is required when NODE_ENV=Production/,
        ],
      ];
      for (const [name, env, message] of cases) {
        const { code, output } = await run(env);
        expect(code, name).toBe(1);
        expect(output, name).toMatch(message);
        // One clear line (or a list of them), never a stack trace.
        expect(output, name).not.toMatch(/\n\s+at /);
      }
    } finally {
      await emulator.stop();
    }
  });

  it("names every invalid variable", async () => {
    const { code, output } = await run({ PORT: "eighty", DATABASE_URL: "mysql://x", LOG_LEVEL: "loud" });
    expect(code).toBe(1);
    expect(output).toMatch(/PORT must be integer/);
    expect(output).toMatch(/DATABASE_URL must be a postgres or postgresql URL/);
    expect(output).toMatch(/LOG_LEVEL must be equal to one of the allowed values/);
  });

  it("says in one line that the port is taken", async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const port = (blocker.address() as AddressInfo).port;
    try {
      const { code, output } = await run({ DATA_DIR: tempDir(), PORT: String(port), HOST: "127.0.0.1" });
      expect(code).toBe(1);
      expect(output).toMatch(new RegExp(`port ${port} on 127.0.0.1 is already in use`));
      expect(output).not.toMatch(/\n\s+at /);
    } finally {
      blocker.close();
    }
  });
});
