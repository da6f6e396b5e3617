import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { Svix } from "svix";
import { afterEach, describe, expect, it } from "vitest";
import { freePort } from "../helpers/relayProcess.ts";

// The two CLIs as a newcomer runs them: `npm run emulator -- --endpoint …` and `npm run webhook-sink`.
const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill("SIGTERM");
});

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

function run(script: string, args: string[]): Run {
  const child = spawn(process.execPath, [`src/bin/${script}`, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let out = "";
  let err = "";
  child.stdout?.on("data", (chunk: Buffer) => (out += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The flags a CLI's parseCli call declares, read from its source. */
function declaredFlags(script: string): string[] {
  const source = readFileSync(`src/bin/${script}`, "utf8");
  const block = source.slice(source.indexOf("parseCli("));
  return [...block.matchAll(/^\s+"?([a-z-]+)"?: \{ type:/gm)].map((m) => m[1] ?? "");
}

describe("CLIs", () => {
  it("--help lists every flag of each CLI", async () => {
    const scripts = ["emulator.ts", "webhookSink.ts"];
    const runs = scripts.map((script) => run(script, ["--help"]));
    for (const [i, script] of scripts.entries()) {
      const help = runs[i]!;
      expect(await help.exited).toBe(0);
      const flags = declaredFlags(script);
      expect(flags.length).toBeGreaterThan(3);
      for (const flag of [...flags, "help"]) expect(help.stdout(), `${script} --${flag}`).toContain(`--${flag}`);
    }
  });

  it("says in one line that a port is busy, or that a flag is unknown", async () => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, "127.0.0.1", resolve));
    const { port } = busy.address() as { port: number };
    try {
      const emulator = run("emulator.ts", ["--port", String(port)]);
      const sink = run("webhookSink.ts", ["--port", String(port), "--secret", SECRET]);
      expect(await emulator.exited).toBe(1);
      expect(await sink.exited).toBe(1);
      for (const r of [emulator, sink])
        expect(r.stderr().trim().split("\n")).toEqual([expect.stringContaining(`port ${port} is already in use`)]);
    } finally {
      busy.close();
    }
    const typo = run("webhookSink.ts", ["--secrett", SECRET]);
    expect(await typo.exited).toBe(2);
    expect(typo.stderr().trim().split("\n")).toHaveLength(1);
  });

  it("emulator --endpoint + webhook-sink: a message shows up as one line, without its payload", async () => {
    const [sinkPort, emulatorPort] = [await freePort(), await freePort()];
    const sink = run("webhookSink.ts", ["--port", String(sinkPort), "--secret", SECRET, "--fail-first", "1"]);
    const emulator = run("emulator.ts", [
      "--port",
      String(emulatorPort),
      "--endpoint",
      `http://127.0.0.1:${sinkPort}/`,
      "--endpoint-secret",
      SECRET,
      "--retry-schedule",
      "0,50",
    ]);
    await until(
      () => sink.stdout().includes("Webhook sink on") && emulator.stdout().includes("receive: npm run webhook-sink"),
      "both CLIs to start",
    );
    expect(emulator.stdout()).toContain(`npm run webhook-sink -- --port ${sinkPort} --secret ${SECRET}`);

    const svix = new Svix("any", { serverUrl: `http://127.0.0.1:${emulatorPort}`, retryScheduleInMs: [] });
    const msg = await svix.message.create("acme", {
      eventType: "user.created",
      payload: { type: "user.created", email: "ada@example.com" },
      application: { name: "acme", uid: "acme" },
    });
    await until(
      () =>
        sink
          .stdout()
          .split("\n")
          .filter((l) => l.includes(msg.id)).length === 2,
      "the webhook and its retry",
    );
    const lines = sink
      .stdout()
      .split("\n")
      .filter((l) => l.includes(msg.id));
    expect(lines[0]).toMatch(new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\S+ ${msg.id} user.created  → 500`));
    expect(lines[1]).toMatch(new RegExp(`^\\S+ ${msg.id} user.created$`));
    expect(sink.stdout()).not.toContain("ada@example.com");
    await until(() => emulator.stdout().includes("(attempt 2/2)"), "the emulator's delivery log");
    expect(emulator.stdout()).not.toContain("ada@example.com");

    const forged = await fetch(`http://127.0.0.1:${sinkPort}/`, { method: "POST", body: "{}" });
    expect(forged.status).toBe(401);
  });
});
