import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { npmScriptArgs, relayNodeFlags } from "../../bench/services.ts";

// The relay's V8 flags are written in package.json's start script; the tests, the chaos run and
// the bench read them from there. The worker's script and the Dockerfile cannot, so they are held
// to the same flags here.
const ROOT = join(import.meta.dirname, "..", "..");
const flags = relayNodeFlags(ROOT);

describe("the relay's node flags", () => {
  it("are read from npm start, without its .env file", () => {
    expect(flags).toContain("--max-semi-space-size=16");
    expect(flags.some((f) => f.startsWith("--env-file"))).toBe(false);
  });

  it("are the worker's too (npm run worker)", () => {
    const words = npmScriptArgs(ROOT, "worker", []);
    expect(words.filter((w) => w.startsWith("--") && !w.startsWith("--env-file"))).toEqual(flags);
    expect(words.at(-1)).toBe("src/bin/worker.ts");
  });

  it("are the container's (the Dockerfile's CMD)", () => {
    const cmd = /^CMD (\[.*\])$/m.exec(readFileSync(join(ROOT, "Dockerfile"), "utf8"));
    expect(JSON.parse(cmd![1]!)).toEqual(["node", ...flags, "src/bin/relay.ts"]);
  });
});
