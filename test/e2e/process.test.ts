import { spawn } from "node:child_process";
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
  return fetch(`${url}/notifications`, { method: "POST", headers: { "content-type": "application/json" }, body: readFileSync(file) });
}

describe("zero-configuration start", () => {
  it("runs on the embedded database and the in-process emulator; posting the examples twice creates nothing new", async () => {
    const emulatorPort = await freePort();
    // No DATABASE_URL, no SVIX_*: only where to keep data and where the emulator listens (to count messages).
    relay = await startRelayProcess({ DATA_DIR: tempDir(), SVIX_EMULATOR_PORT: String(emulatorPort) });
    expect(relay.output.some((l) => l.includes("in-process Svix emulator") && l.includes("no webhook leaves this machine"))).toBe(true);
    const files = readdirSync(EXAMPLES).filter((f) => f.endsWith(".json")).map((f) => join(EXAMPLES, f));
    expect(files.length).toBeGreaterThanOrEqual(3);
    const first = await Promise.all(files.map(async (f) => (await postFile(relay!.url, f)).status));
    expect(first.every((s) => s === 202)).toBe(true);
    const second = await Promise.all(files.map(async (f) => (await postFile(relay!.url, f)).status));
    expect(second.every((s) => s === 200)).toBe(true);

    // Count through Svix's own API, with the real SDK, on the emulator the relay started.
    const svix = new Svix("any-key", { serverUrl: `http://127.0.0.1:${emulatorPort}` });
    const projects = new Set(files.map((f) => (JSON.parse(readFileSync(f, "utf8")) as { project: string }).project));
    let total = 0;
    for (const project of projects) total += (await svix.message.list(project)).data.length;
    expect(total).toBe(files.length);
  });

  it("shuts down gracefully on SIGTERM: finishes the request in flight, then exits 0", async () => {
    const emulator = new SvixEmulator({ apiKey: "k" });
    const svixUrl = await emulator.start();
    try {
      emulator.faults.add({ kind: "latency", minMs: 1500, maxMs: 1500, operation: "message.create" });
      relay = await startRelayProcess({ DATA_DIR: tempDir(), SVIX_API_KEY: "k", SVIX_SERVER_URL: svixUrl });
      const inFlight = fetch(`${relay.url}/notifications`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(makeEvent()) });
      await new Promise((r) => setTimeout(r, 500));
      relay.child.kill("SIGTERM");
      expect((await inFlight).status).toBe(202);
      expect(await relay.exited).toBe(0);
      expect(relay.output.some((l) => l.includes('"stopped"'))).toBe(true);
    } finally {
      await emulator.stop();
    }
  });
});

describe("configuration errors", () => {
  async function run(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
    const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
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

  it("refuses to start in production without SVIX_API_KEY and DATABASE_URL, saying why", async () => {
    const { code, output } = await run({ NODE_ENV: "production", DATA_DIR: tempDir() });
    expect(code).toBe(1);
    expect(output).toContain("SVIX_API_KEY is required when NODE_ENV=production");
    expect(output).toContain("DATABASE_URL is required when NODE_ENV=production");
  });

  it("names every invalid variable", async () => {
    const { code, output } = await run({ PORT: "eighty", DATABASE_URL: "mysql://x", LOG_LEVEL: "loud" });
    expect(code).toBe(1);
    expect(output).toMatch(/PORT must be integer/);
    expect(output).toMatch(/DATABASE_URL must match pattern/);
    expect(output).toMatch(/LOG_LEVEL must be equal to one of the allowed values/);
  });
});
