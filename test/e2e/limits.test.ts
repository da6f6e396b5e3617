import { readFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeEvent } from "../helpers/events.ts";
import { startRelayProcess, type RelayProcess } from "../helpers/relayProcess.ts";
import { createPostgresDatabase, usingPostgres } from "../helpers/testDatabase.ts";

// Memory and size bombs against the relay as `npm start` runs it, measured by the kernel.
let relay: RelayProcess;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  let env: Record<string, string>;
  if (usingPostgres()) {
    const db = await createPostgresDatabase();
    env = { DATABASE_URL: db.url, SVIX_EMULATOR: "true" };
    cleanup = db.drop;
  } else {
    const dir = mkdtempSync(join(tmpdir(), "relay-limits-"));
    env = { DATA_DIR: dir };
    cleanup = async () => rmSync(dir, { recursive: true, force: true });
  }
  relay = await startRelayProcess({ ...env, SVIX_WEBHOOK_SECRET: `whsec_${Buffer.alloc(24, 3).toString("base64")}` });
});
afterAll(async () => {
  relay?.child.kill("SIGKILL");
  await relay?.exited;
  await cleanup?.();
});

function memoryKb(field: "VmRSS"): number {
  const status = readFileSync(`/proc/${relay.child.pid}/status`, "utf8");
  return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1]);
}

/** A valid-looking event whose data is `count` empty objects: ~1 MiB of tiny values. */
function bomb(count: number): string {
  return JSON.stringify(makeEvent({ data: { a: "BOMB" } })).replace('"BOMB"', `[${"{},".repeat(count - 1)}{}]`);
}

const post = (body: string, headers: Record<string, string> = {}) =>
  fetch(`${relay.url}/notifications`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
  });

describe("bounded inputs", () => {
  it("30 concurrent ~1 MiB bodies of tiny values, direct and in envelopes, cost under 120 MB (under 300 MB in all on PostgreSQL)", async () => {
    // Warm up (first request compiles code paths, opens connections), then take the resting size.
    expect((await post(JSON.stringify(makeEvent()))).status).toBe(200);
    await new Promise((r) => setTimeout(r, 500));
    const rest = memoryKb("VmRSS");
    const direct = bomb(340_000);
    const envelope = JSON.stringify({
      message: { data: Buffer.from(bomb(250_000)).toString("base64"), messageId: "1" },
      subscription: "projects/gigs/subscriptions/relay",
    });
    expect(direct.length).toBeGreaterThan(1_000_000);
    expect(envelope.length).toBeGreaterThan(1_000_000);
    // The peak while the bombs are in: sampled, since the kernel's high-water mark also counts start-up.
    let peak = rest;
    const sampler = setInterval(() => (peak = Math.max(peak, memoryKb("VmRSS"))), 10);
    const answers = await Promise.all(
      Array.from({ length: 30 }, async (_, i) => {
        const res = await post(i % 2 ? direct : envelope.replace('"messageId":"1"', `"messageId":"${i}"`));
        return {
          status: res.status,
          body: (await res.json()) as { data?: { status: string }; error?: { code: string } },
        };
      }),
    );
    // Refused for their complexity, never built: a direct post gets 400, Pub/Sub's are quarantined.
    expect(
      answers.filter((_a, i) => i % 2 === 1).every((a) => a.status === 400 && a.body.error?.code === "invalid_json"),
    ).toBe(true);
    expect(
      answers.filter((_a, i) => i % 2 === 0).every((a) => a.status === 200 && a.body.data?.status === "quarantined"),
    ).toBe(true);
    clearInterval(sampler);
    peak = Math.max(peak, memoryKb("VmRSS"));
    expect(peak - rest, `rest ${rest} kB, peak ${peak} kB`).toBeLessThan(120 * 1024);
    if (usingPostgres()) expect(peak, `rest ${rest} kB, peak ${peak} kB`).toBeLessThan(300 * 1024);
  });

  it("refuses a Pub/Sub envelope with a 1.9 MB subscription before reading it all", async () => {
    const envelope = {
      message: { data: Buffer.from(JSON.stringify(makeEvent())).toString("base64"), messageId: "2" },
      subscription: `projects/p/subscriptions/${"s".repeat(1_900_000)}`,
    };
    expect((await post(JSON.stringify(envelope))).status).toBe(413);
  });

  it("refuses 256 concurrent gzip bombs (1.5 KB inflating to 1.4 MB each) before inflating any, under 300 MB on PostgreSQL", async () => {
    expect((await post(JSON.stringify(makeEvent()))).status).toBe(200);
    const rest = memoryKb("VmRSS");
    const inflated = Buffer.from(`{"object":"event","data":"${"x".repeat(1_400_000)}"}`);
    const bomb = gzipSync(inflated, { level: 9 });
    expect(bomb.length).toBeLessThan(2_000);
    let peak = rest;
    const sampler = setInterval(() => {
      peak = Math.max(peak, memoryKb("VmRSS"));
    }, 10);
    const statuses = await Promise.all(
      Array.from({ length: 256 }, async () => {
        const res = await fetch(`${relay.url}/notifications`, {
          method: "POST",
          headers: { "content-type": "application/json", "content-encoding": "gzip" },
          body: bomb,
        });
        const body = (await res.json()) as { error?: { code: string } };
        return `${res.status} ${body.error?.code}`;
      }),
    );
    clearInterval(sampler);
    // Refused as compressed (or shed at admission when all 256 places are taken): never inflated.
    expect(statuses.filter((s) => s !== "415 unsupported_media_type" && s !== "503 overloaded")).toEqual([]);
    expect(statuses.filter((s) => s.startsWith("415")).length).toBeGreaterThan(200);
    expect(peak - rest, `rest ${rest} kB, peak ${peak} kB`).toBeLessThan(60 * 1024);
    if (usingPostgres()) expect(peak, `rest ${rest} kB, peak ${peak} kB`).toBeLessThan(300 * 1024);
  });

  it("refuses 200 forged operational webhooks of 256 KiB, and 200 of 60 KiB, within seconds, under 300 MB on PostgreSQL", async () => {
    const rest = memoryKb("VmRSS");
    let peak = rest;
    const sampler = setInterval(() => {
      peak = Math.max(peak, memoryKb("VmRSS"));
    }, 10);
    const forge = (bytes: number) =>
      fetch(`${relay.url}/svix/webhooks`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "svix-id": "msg_forged",
          "svix-timestamp": String(Math.floor(Date.now() / 1000)),
          "svix-signature": `v1,${Buffer.alloc(32, 9).toString("base64")}`,
        },
        body: `{"type":"endpoint.disabled","data":{"pad":"${"x".repeat(bytes - 60)}"}}`,
      }).then(async (res) => {
        await res.arrayBuffer();
        return res.status;
      });
    const started = performance.now();
    const large = await Promise.all(Array.from({ length: 200 }, () => forge(256 * 1024)));
    const small = await Promise.all(Array.from({ length: 200 }, () => forge(60 * 1024)));
    const seconds = (performance.now() - started) / 1000;
    clearInterval(sampler);
    expect(large.filter((s) => s !== 413)).toEqual([]);
    // Read and checked (401), or shed while eight are being read (503): never taken.
    expect(small.filter((s) => s !== 401 && s !== 503)).toEqual([]);
    expect(seconds).toBeLessThan(20);
    expect(peak - rest, `rest ${rest} kB, peak ${peak} kB`).toBeLessThan(80 * 1024);
    if (usingPostgres()) expect(peak, `rest ${rest} kB, peak ${peak} kB`).toBeLessThan(300 * 1024);
  });
});
