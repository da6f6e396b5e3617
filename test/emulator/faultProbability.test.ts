import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { FaultPlan } from "../../src/emulator/faults.ts";
import { freePort } from "../helpers/relayProcess.ts";

/** A random source that plays the given draws in a loop. */
function draws(...values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length]!;
}

describe("a fault rule with a probability", () => {
  it("applies to the calls whose draw falls below it, and spares the others", () => {
    const plan = new FaultPlan({ random: draws(0.05, 0.5, 0.09, 0.1, 0.99) });
    plan.add({ kind: "status", status: 503, operation: "message.create", probability: 0.1 });
    const hits = [1, 2, 3, 4, 5].map(() => plan.take("message.create", "before")?.kind ?? "none");
    expect(hits).toEqual(["status", "none", "status", "none", "none"]);
  });

  it("consumes its times only when it applies", () => {
    const plan = new FaultPlan({ random: draws(0.9, 0.9, 0.1, 0.1) });
    plan.add({ kind: "hang", probability: 0.5, times: 1 });
    expect(plan.take("message.create", "before")).toBeUndefined();
    expect(plan.take("message.create", "before")).toBeUndefined();
    expect(plan.take("message.create", "before")?.kind).toBe("hang");
    expect(plan.take("message.create", "before")).toBeUndefined();
  });

  it("fails about that share of many calls with Math.random", () => {
    const plan = new FaultPlan();
    plan.add({ kind: "status", status: 503, probability: 0.1 });
    let failed = 0;
    for (let i = 0; i < 10_000; i++) if (plan.take("message.create", "before")) failed += 1;
    expect(failed).toBeGreaterThan(800);
    expect(failed).toBeLessThan(1200);
  });
});

describe("npm run emulator -- --fail-rate P", () => {
  it("refuses a rate outside 0–1", async () => {
    const child = spawn(process.execPath, ["src/bin/emulator.ts", "--fail-rate", "1.5"], { stdio: "pipe" });
    let err = "";
    child.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    expect(code).toBe(2);
    expect(err).toContain("--fail-rate must be a number from 0 to 1");
  });

  it("answers message.create with the fail status at that rate (1: every call), other calls normally", async () => {
    const port = await freePort();
    const child = spawn(
      process.execPath,
      ["src/bin/emulator.ts", "--port", String(port), "--fail-rate", "1", "--fail-status", "502"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    try {
      let out = "";
      child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
      const deadline = Date.now() + 15_000;
      while (!out.includes("Svix emulator on")) {
        if (Date.now() > deadline) throw new Error(`emulator did not start: ${out}`);
        await new Promise((r) => setTimeout(r, 25));
      }
      const base = `http://127.0.0.1:${port}/api/v1`;
      const headers = { authorization: "Bearer test-key", "content-type": "application/json" };
      const app = await fetch(`${base}/app`, {
        method: "POST",
        headers,
        body: JSON.stringify({ name: "a", uid: "a" }),
      });
      expect(app.status).toBe(201);
      const msg = await fetch(`${base}/app/a/msg`, {
        method: "POST",
        headers,
        body: JSON.stringify({ eventType: "t", payload: {} }),
      });
      expect(msg.status).toBe(502);
    } finally {
      child.kill("SIGKILL");
    }
  });
});
