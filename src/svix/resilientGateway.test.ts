import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { AppError } from "../errors.ts";
import type { OutgoingMessage, SentMessage } from "../notifications/ports.ts";
import { createMetrics } from "../observability/metrics.ts";
import { expectEachBetween } from "../../test/helpers/ranges.ts";
import { ResilientSvixGateway } from "./resilientGateway.ts";
import type { SvixApi } from "./svixGateway.ts";

// The state machine on a fake clock, with a scripted inner gateway (a fake of our own port).
type Step = "ok" | "503" | "401" | "429" | "400" | { retryAfter: number };

function setup(steps: Step[], options: Partial<ConstructorParameters<typeof ResilientSvixGateway>[0]> = {}) {
  let now = 1_000_000;
  const calls: number[] = [];
  const inner: SvixApi = {
    getOrCreateApplication: async () => ({ id: "app_1", uid: "p" }),
    appPortalAccess: async () => ({ url: "https://portal", token: "t" }),
    ensureEventType: async () => undefined,
    createMessage: async (): Promise<SentMessage> => {
      calls.push(now);
      const step = steps.shift() ?? "ok";
      if (step === "ok") return { messageId: "msg_1", duplicate: false, httpStatus: 202 };
      if (step === "503") throw new AppError("svix_unavailable", "Svix answered 503", { upstreamStatus: 503 });
      if (step === "400") throw new AppError("svix_rejected", "bad", { upstreamStatus: 400 });
      if (step === "401") throw new AppError("svix_unauthorized", "bad key", { upstreamStatus: 401 });
      const retryAfterSeconds = typeof step === "object" ? step.retryAfter : undefined;
      throw new AppError("svix_rate_limited", "slow down", { upstreamStatus: 429, retryAfterSeconds });
    },
  };
  const gateway = new ResilientSvixGateway({
    inner,
    logger: pino({ level: "silent" }),
    metrics: createMetrics(),
    maxRetries: 0,
    maxInFlight: 10,
    circuitFailureThreshold: 3,
    circuitCooldownMs: 5000,
    now: () => now,
    ...options,
  });
  const send = () => gateway.createMessage({} as OutgoingMessage).then(() => "ok", (e: AppError) => e.code);
  return { gateway, calls, send, advance: (ms: number) => (now += ms) };
}

describe("ResilientSvixGateway", () => {
  it("after a 429 with Retry-After, makes no call until the window has passed", async () => {
    const t = setup([{ retryAfter: 10 }]);
    expect(await t.send()).toBe("svix_rate_limited");
    t.advance(9_999);
    expect(await t.send()).toBe("svix_rate_limited");
    expect(t.calls).toHaveLength(1);
    expect(t.gateway.waitMs() / 1000).toBeCloseTo(0.001, 3);
    t.advance(1);
    expect(await t.send()).toBe("ok");
    expect(t.calls).toHaveLength(2);
  });

  it("caps an absurd Retry-After", async () => {
    const t = setup([{ retryAfter: 86_400 }], { maxPauseMs: 60_000 });
    await t.send();
    expect(t.gateway.waitMs() / 1000).toBe(60);
  });

  it("doubles the pause for consecutive 429s without Retry-After, and resets after a success", async () => {
    const t = setup(["429", "429", "429", "ok", "429"], { rateLimitBaseMs: 1000 });
    const pauses: number[] = [];
    for (let i = 0; i < 3; i += 1) {
      await t.send();
      pauses.push(t.gateway.waitMs() / 1000);
      t.advance(t.gateway.waitMs());
    }
    expectEachBetween(pauses, [[0.5, 1], [1, 2], [2, 4]]);
    expect(await t.send()).toBe("ok");
    await t.send();
    expect(t.gateway.waitMs() / 1000).toBeLessThanOrEqual(1);
  });

  it("opens after the threshold, lets exactly one probe through after the cool-down, and closes on its success", async () => {
    const t = setup(["503", "503", "503"]);
    for (let i = 0; i < 3; i += 1) expect(await t.send()).toBe("svix_unavailable");
    expect(await t.send()).toBe("svix_circuit_open");
    expect(t.calls).toHaveLength(3);
    t.advance(5000);
    // Three at once: one probe, two refused while it runs.
    const results = await Promise.all([t.send(), t.send(), t.send()]);
    expect(results.filter((r) => r === "ok")).toHaveLength(1);
    expect(results.filter((r) => r === "svix_circuit_open")).toHaveLength(2);
    expect(await t.send()).toBe("ok");
    expect(t.calls).toHaveLength(5);
  });

  it("does not count permanent rejections or throttling as failures of Svix", async () => {
    const t = setup(["503", "503", "400", "503", "503", { retryAfter: 1 }, "503", "503", "ok"]);
    for (let i = 0; i < 5; i += 1) expect(await t.send()).not.toBe("svix_circuit_open");
    expect(await t.send()).toBe("svix_rate_limited");
    // Two failures after the 429 (a second apart: the 429 also set a pace): with the 429
    // counted, the second would be the third failure in a row and open the circuit.
    for (let i = 0; i < 2; i += 1) {
      t.advance(1000);
      expect(await t.send()).toBe("svix_unavailable");
    }
    t.advance(1000);
    expect(await t.send()).toBe("ok");
  });

  it("counts Svix refusing our key (401/403) towards opening the circuit: a wrong key is an outage of ours", async () => {
    const t = setup(["401", "401", "401"]);
    for (let i = 0; i < 3; i += 1) expect(await t.send()).toBe("svix_unauthorized");
    expect(await t.send()).toBe("svix_circuit_open");
    expect(t.calls).toHaveLength(3);
  });

  it("never pauses longer than rateLimitMaxMs after consecutive 429s without Retry-After", async () => {
    const t = setup(Array.from({ length: 12 }, () => "429" as const), { rateLimitBaseMs: 1000, rateLimitMaxMs: 60_000 });
    let longest = 0;
    for (let i = 0; i < 12; i += 1) {
      await t.send();
      longest = Math.max(longest, t.gateway.waitMs() / 1000);
      t.advance(t.gateway.waitMs());
    }
    // 2^11 s uncapped; jittered into [half, full] of the 60 s cap.
    expect(longest).toBeGreaterThanOrEqual(30);
    expect(longest).toBeLessThanOrEqual(60);
  });

  it("retries transient failures within the deadline only", async () => {
    const t = setup(["503", "503", "ok"], { maxRetries: 2, retryBaseMs: 1 });
    expect(await t.send()).toBe("ok");
    expect(t.calls).toHaveLength(3);
    const late = setup(["503", "ok"], { maxRetries: 2, retryBaseMs: 1 });
    const outcome = await late.gateway.createMessage({} as OutgoingMessage, { deadline: 1_000_000 }).then(() => "ok", (e: AppError) => e.code);
    expect(outcome).toBe("svix_unavailable");
    expect(late.calls).toHaveLength(1);
  });
});
