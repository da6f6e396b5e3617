import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { freePort } from "../helpers/relayProcess.ts";

// The one lifecycle of the relay's two server processes (src/wiring/lifecycle.ts), seen from
// outside as an operator sees it: `npm start` and `npm run worker` in child processes.
const ROOT = join(import.meta.dirname, "..", "..");
const PROGRAMS = [
  { name: "relay", script: "src/bin/relay.ts", env: {} },
  {
    name: "worker",
    script: "src/bin/worker.ts",
    // Never reached: these tests stop the worker before it pulls.
    env: { PUBSUB_SUBSCRIPTION: "projects/p/subscriptions/s", PUBSUB_EMULATOR_HOST: "127.0.0.1:9" },
  },
] as const;

const children: ChildProcess[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill("SIGKILL");
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function start(command: string, args: string[], env: Record<string, string>) {
  const dataDir = mkdtempSync(join(tmpdir(), "relay-lifecycle-"));
  dirs.push(dataDir);
  const child = spawn(command, args, {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "/tmp",
      DATA_DIR: dataDir,
      HOST: "127.0.0.1",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const until = async (pattern: RegExp, timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(output)) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`never saw ${pattern}:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  };
  return { child, exited, output: () => output, until };
}

describe("the relay's and the worker's one lifecycle", () => {
  for (const program of PROGRAMS) {
    it(`${program.name}: says in one line that its port is taken, and exits 1`, async () => {
      const blocker = createServer();
      await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
      const port = (blocker.address() as AddressInfo).port;
      try {
        const run = start(process.execPath, [program.script], { ...program.env, PORT: String(port) });
        expect(await run.exited).toBe(1);
        expect(run.output()).toMatch(
          new RegExp(`${program.name} failed to start: port ${port} on 127.0.0.1 is already in use \\(set PORT`),
        );
        expect(run.output()).not.toMatch(/\n\s+at /);
      } finally {
        blocker.close();
      }
    });

    it(`${program.name}: a SIGTERM while it is still starting stops it cleanly, before it serves`, async () => {
      const port = await freePort();
      const run = start(process.execPath, [program.script], { ...program.env, PORT: String(port) });
      // The first line it writes comes from building the container: the signal lands mid-start.
      await run.until(/in-process Svix emulator/);
      run.child.kill("SIGTERM");
      expect(await run.exited).toBe(0);
      expect(run.output()).toMatch(/stopped before serving/);
      expect(run.output()).not.toMatch(/"(relay listening|worker started)"/);
    });
  }

  it("worker: refuses to start without PUBSUB_SUBSCRIPTION, naming it", async () => {
    const run = start(process.execPath, ["src/bin/worker.ts"], { PORT: String(await freePort()) });
    expect(await run.exited).toBe(1);
    expect(run.output()).toMatch(/PUBSUB_SUBSCRIPTION is required for the pull worker/);
  });

  it("writes readable lines on a terminal, and JSON for Cloud Logging when piped", async () => {
    const port = String(await freePort());
    // `script` gives the relay a terminal of its own, as a developer's shell would.
    const tty = start("script", ["-qfec", `${process.execPath} src/bin/relay.ts`, "/dev/null"], { PORT: port });
    await tty.until(/relay listening/);
    const lines = tty
      .output()
      .split(/\r?\n/)
      .filter((line) => line.trim().length > 0);
    expect(lines.some((line) => line.includes("relay: http://127.0.0.1:"))).toBe(true);
    expect(lines.filter((line) => line.trimStart().startsWith("{"))).toEqual([]);
    tty.child.kill("SIGTERM");
    await tty.exited;

    const piped = start(process.execPath, ["src/bin/relay.ts"], { PORT: String(await freePort()) });
    await piped.until(/"relay listening"/);
    const json = piped.output().split("\n").filter(Boolean);
    for (const line of json) expect(JSON.parse(line)).toHaveProperty("severity");
  });
});
