import { afterEach, describe, expect, it, vi } from "vitest";
import { AppError } from "../../src/errors.ts";
import type { CallOptions, OutgoingMessage, SentMessage } from "../../src/core/ports/svix.ts";
import { createMetrics, type Metrics } from "../../src/observability/metrics.ts";
import { captureLogs } from "../helpers/capturedLogs.ts";
import { expectEachBetween } from "../helpers/ranges.ts";
import { ResilientSvixGateway } from "../../src/svix/resilientGateway.ts";
import type { SvixApi } from "../../src/svix/svixGateway.ts";

// The state machine on a fake clock, with a scripted inner gateway (a fake of our own port).
// "timeout": no answer (no HTTP status), as the SDK gateway reports it; "crash": an error that is
// not an AppError; { hold }: the call stays in flight until the test settles it.
type Step =
  | "ok"
  | "503"
  | "401"
  | "429"
  | "400"
  | "timeout"
  | "crash"
  | { retryAfter: number }
  | { hold: Promise<Step> };

/** A step that stays in flight until release(outcome). */
function held(): { step: Step; release: (outcome: Step) => void } {
  let release!: (outcome: Step) => void;
  return { step: { hold: new Promise<Step>((resolve) => (release = resolve)) }, release };
}

function setup(steps: Step[], options: Partial<ConstructorParameters<typeof ResilientSvixGateway>[0]> = {}) {
  let now = 1_000_000;
  const calls: number[] = [];
  const deadlines: Array<number | undefined> = [];
  let recovered = 0;
  const metrics = createMetrics();
  const logs = captureLogs();
  const inner: SvixApi = {
    getOrCreateApplication: async () => ({ id: "app_1", uid: "p" }),
    appPortalAccess: async () => ({ url: "https://portal", token: "t" }),
    ensureEventType: async () => "unchanged" as const,
    createMessage: async (_message: OutgoingMessage, callOptions?: CallOptions): Promise<SentMessage> => {
      calls.push(now);
      deadlines.push(callOptions?.deadline);
      let step = steps.shift() ?? "ok";
      while (typeof step === "object" && "hold" in step) step = await step.hold;
      if (step === "ok") return { messageId: "msg_1", duplicate: false, httpStatus: 202 };
      if (step === "503") throw new AppError("svix_unavailable", "Svix answered 503", { upstreamStatus: 503 });
      if (step === "timeout") throw new AppError("svix_unavailable", "Svix did not answer in time");
      if (step === "crash") throw new TypeError("boom");
      if (step === "400") throw new AppError("svix_rejected", "bad", { upstreamStatus: 400 });
      if (step === "401") throw new AppError("svix_unauthorized", "bad key", { upstreamStatus: 401 });
      const retryAfterSeconds = typeof step === "object" ? step.retryAfter : undefined;
      throw new AppError("svix_rate_limited", "slow down", { upstreamStatus: 429, retryAfterSeconds });
    },
  };
  const gateway = new ResilientSvixGateway({
    inner,
    logger: logs.logger,
    metrics,
    maxRetries: 0,
    maxInFlight: 10,
    circuitFailureThreshold: 3,
    circuitCooldownMs: 5000,
    clock: { now: () => now },
    onRecovered: () => (recovered += 1),
    ...options,
  });
  const send = (callOptions?: CallOptions) =>
    gateway.createMessage({} as OutgoingMessage, callOptions).then(
      () => "ok",
      (e: AppError) => e.code,
    );
  /** The AppError a call ends with (a success fails the test). */
  const fail = (callOptions?: CallOptions) =>
    gateway.createMessage({} as OutgoingMessage, callOptions).then(
      () => expect.fail("expected the call to fail"),
      (e: AppError) => e,
    );
  /** Calls refused without calling Svix, by reason. */
  const shed = async () => Object.fromEntries((await metrics.shed.get()).values.map((v) => [v.labels.reason, v.value]));
  const gauge = async (g: Metrics["circuitOpen"]) => (await g.get()).values[0]?.value ?? 0;
  return {
    gateway,
    calls,
    send,
    fail,
    shed,
    gauge,
    metrics,
    logs,
    recoveries: () => recovered,
    deadlines,
    now: () => now,
    advance: (ms: number) => (now += ms),
  };
}

/** The log lines with this message. */
const logged = (logs: { records: Array<Record<string, unknown>> }, message: string) =>
  logs.records.filter((r) => r.message === message);

describe("ResilientSvixGateway", () => {
  afterEach(() => vi.restoreAllMocks());

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
    expectEachBetween(pauses, [
      [0.5, 1],
      [1, 2],
      [2, 4],
    ]);
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

  it("gives the probe one second to answer, whatever the caller's budget: a hung probe must not hold the circuit open", async () => {
    const t = setup(["503", "503", "503", "ok", "ok"]);
    for (let i = 0; i < 3; i += 1) await t.send();
    t.advance(5000);
    expect(await t.send({ deadline: t.now() + 7000 })).toBe("ok");
    expect(t.deadlines.at(-1)).toBe(t.now() + 1000);
    // Closed again: a call keeps the caller's whole budget.
    expect(await t.send({ deadline: t.now() + 7000 })).toBe("ok");
    expect(t.deadlines.at(-1)).toBe(t.now() + 7000);
  });

  it("counts the cool-down after a failed probe from the probe's start: a probe that hung its whole timeout has waited already", async () => {
    const hung = held();
    const t = setup(["503", "503", "503", hung.step, "503", "ok"]);
    for (let i = 0; i < 3; i += 1) await t.send();
    t.advance(5000);
    const probing = t.send();
    t.advance(3000);
    hung.release("timeout");
    expect(await probing).toBe("svix_unavailable");
    expect(t.gateway.blockedMs()).toBe(2000);
    t.advance(2000);
    // A probe that fails at once: open again for a whole cool-down.
    expect(await t.send()).toBe("svix_unavailable");
    expect(t.gateway.blockedMs()).toBe(5000);
    t.advance(5000);
    expect(await t.send()).toBe("ok");
    expect(t.calls).toEqual([1_000_000, 1_000_000, 1_000_000, 1_005_000, 1_010_000, 1_015_000]);
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
    const t = setup(
      Array.from({ length: 12 }, () => "429" as const),
      { rateLimitBaseMs: 1000, rateLimitMaxMs: 60_000 },
    );
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
    const outcome = await late.gateway.createMessage({} as OutgoingMessage, { deadline: 1_000_000 }).then(
      () => "ok",
      (e: AppError) => e.code,
    );
    expect(outcome).toBe("svix_unavailable");
    expect(late.calls).toHaveLength(1);
  });

  it("gives up after maxRetries retries of a transient failure: 1 + maxRetries calls", async () => {
    const t = setup(["503", "503", "503", "503", "ok"], { maxRetries: 2, retryBaseMs: 1, circuitFailureThreshold: 10 });
    expect(await t.send()).toBe("svix_unavailable");
    expect(t.calls).toHaveLength(3);
  });

  it("does not retry a permanent rejection", async () => {
    const t = setup(["400", "ok"], { maxRetries: 2, retryBaseMs: 1 });
    expect(await t.send()).toBe("svix_rejected");
    expect(t.calls).toHaveLength(1);
  });

  it("retries only when the jittered wait (½–1 × retryBaseMs, doubled per retry) plus two base delays for the call fit before the deadline", async () => {
    // Jitter pinned to its middle: the first retry waits 0.75 × 20 = 15 ms, the second 30 ms.
    vi.spyOn(Math, "random").mockReturnValue(0.5);
    const callsBy = async (budgetMs: number) => {
      const t = setup(["503", "503", "503"], { maxRetries: 2, retryBaseMs: 20, circuitFailureThreshold: 10 });
      await t.send({ deadline: t.now() + budgetMs });
      return t.calls.length;
    };
    expect(await callsBy(54)).toBe(1); // 15 + 40 > 54
    expect(await callsBy(55)).toBe(2); // 15 + 40 fits; 30 + 40 does not
    expect(await callsBy(69)).toBe(2);
    expect(await callsBy(70)).toBe(3);
  });

  it("wraps an error that is not an AppError as svix_unavailable, keeping it as the cause", async () => {
    const t = setup(["crash"]);
    const error = await t.fail();
    expect(error).toMatchObject({ code: "svix_unavailable", message: "Svix call failed" });
    expect(error.cause).toBeInstanceOf(TypeError);
    expect((error.cause as Error).message).toBe("boom");
  });

  it("sheds calls past maxInFlight at once (overloaded, Retry-After 1 s), counted, without calling Svix", async () => {
    const first = held();
    const second = held();
    const t = setup([first.step, second.step], { maxInFlight: 2 });
    const running = [t.send(), t.send()];
    expect(await t.fail()).toMatchObject({
      code: "overloaded",
      retryAfterSeconds: 1,
      message: expect.stringMatching(/in flight/),
    });
    expect(t.calls).toHaveLength(2);
    expect(await t.shed()).toEqual({ overloaded: 1 });
    first.release("ok");
    second.release("ok");
    expect(await Promise.all(running)).toEqual(["ok", "ok"]);
    expect(await t.send()).toBe("ok");
  });

  it("whenRoom: true at once while a place is free; else told when one frees, one waiter per place, oldest first; false after its wait", async () => {
    const calls = [held(), held()];
    const t = setup([calls[0]!.step, calls[1]!.step], { maxInFlight: 2 });
    expect(await t.gateway.whenRoom(0)).toBe(true);
    const running = [t.send(), t.send()];
    const told: string[] = [];
    const first = t.gateway.whenRoom(10_000).then((room) => told.push(`first ${room}`));
    const second = t.gateway.whenRoom(10_000).then((room) => told.push(`second ${room}`));
    expect(await t.gateway.whenRoom(20)).toBe(false);
    expect(told).toEqual([]);
    calls[0]!.release("ok");
    await first;
    expect(told).toEqual(["first true"]);
    calls[1]!.release("503");
    await second;
    expect(told).toEqual(["first true", "second true"]);
    await Promise.all(running);
  });

  it("refuses calls during a Retry-After pause with the seconds left, counted as cooldown", async () => {
    const t = setup([{ retryAfter: 10 }]);
    await t.send();
    t.advance(2500);
    expect(await t.fail()).toMatchObject({
      code: "svix_rate_limited",
      retryAfterSeconds: 8,
      message: expect.stringMatching(/Retry-After/),
    });
    expect(await t.shed()).toEqual({ cooldown: 1 });
    expect(t.calls).toHaveLength(1);
  });

  it("logs a pause once when it starts; 429s of calls already in flight extend it silently and never shorten it", async () => {
    const a = held();
    const b = held();
    const c = held();
    const t = setup([a.step, b.step, c.step, { retryAfter: 10 }, "429"]);
    const running = [t.send(), t.send(), t.send()];
    a.release({ retryAfter: 10 });
    b.release({ retryAfter: 20 });
    c.release({ retryAfter: 5 });
    expect(await Promise.all(running)).toEqual(["svix_rate_limited", "svix_rate_limited", "svix_rate_limited"]);
    expect(t.gateway.blockedMs()).toBe(20_000);
    expect(logged(t.logs, "Svix rate limit: pausing Svix calls")).toEqual([
      expect.objectContaining({ level: "warn", waitMs: 10_000, retryAfterGiven: true }),
    ]);
    // A 429 just as that pause ends starts a new pause, logged again.
    t.advance(20_000);
    expect(await t.send()).toBe("svix_rate_limited");
    t.advance(10_000);
    expect(await t.send()).toBe("svix_rate_limited"); // no Retry-After: our own backoff (5th 429 in a row: 8–16 s)
    const pauses = logged(t.logs, "Svix rate limit: pausing Svix calls");
    expect(pauses.map((p) => p.retryAfterGiven)).toEqual([true, true, false]);
    expect(pauses[1]!.waitMs).toBe(10_000);
    expectEachBetween([pauses[2]!.waitMs as number], [[8000, 16_000]]);
  });

  it("paces calls under the rate learned from a 429: past it a call is shed (svix_rate_limited, the wait for the next slot), counted as paced", async () => {
    // One call answered in the second before the 429: one call per second.
    const t = setup(["ok", { retryAfter: 1 }]);
    await t.send();
    await t.send();
    t.advance(1000);
    expect(await t.send()).toBe("ok");
    expect(await t.fail()).toMatchObject({
      code: "svix_rate_limited",
      retryAfterSeconds: 1,
      message: expect.stringMatching(/Pacing/),
    });
    expect(await t.shed()).toEqual({ paced: 1 });
    expect(t.calls).toHaveLength(3);
    t.advance(1000);
    expect(await t.send()).toBe("ok");
  });

  it("a booked pace slot covers the call's first attempt only: its retry needs a slot of its own", async () => {
    const t = setup(["ok", { retryAfter: 1 }, "503", "ok"], { maxRetries: 1, retryBaseMs: 1 });
    await t.send();
    await t.send();
    t.advance(1000);
    expect(t.gateway.reserveCall()).toBe(0); // the one slot of this second
    expect(await t.fail({ reserved: true })).toMatchObject({
      code: "svix_rate_limited",
      message: expect.stringMatching(/Pacing/),
    });
    expect(t.calls).toHaveLength(3);
    expect(await t.shed()).toEqual({ paced: 1 });
  });

  it("an operator's probe flag covers its first attempt only: its retry does not jump the circuit its own failure opened", async () => {
    const t = setup(["503", "ok"], { maxRetries: 1, retryBaseMs: 1, circuitFailureThreshold: 1 });
    expect(await t.send({ probe: true })).toBe("svix_circuit_open");
    expect(t.calls).toHaveLength(1);
  });

  it("circuit: opens (logged once, gauge 1), refuses with the cool-down left, re-opens silently on a failed probe, closes on a probe's success (gauge 0, onRecovered once)", async () => {
    const probe = held();
    const t = setup(["ok", "503", "503", "503", "503", probe.step]);
    expect(await t.send()).toBe("ok");
    // A success with the circuit closed recovers nothing.
    expect(t.recoveries()).toBe(0);
    expect(t.gateway.recoveredAt()).toBe(0);
    for (let i = 0; i < 3; i += 1) expect(await t.send()).toBe("svix_unavailable");
    expect(await t.gauge(t.metrics.circuitOpen)).toBe(1);
    t.advance(1200);
    expect(await t.fail()).toMatchObject({
      code: "svix_circuit_open",
      retryAfterSeconds: 4,
      message: expect.stringMatching(/probe/),
    });
    // The probe fails: open again for a whole cool-down.
    t.advance(3800);
    expect(await t.send()).toBe("svix_unavailable");
    expect(await t.gauge(t.metrics.circuitOpen)).toBe(1);
    expect(t.gateway.blockedMs()).toBe(5000);
    t.advance(5000);
    const probing = t.send();
    // While the probe runs, others wait until it has had probeHedgeMs (250 ms) to answer.
    expect(await t.fail()).toMatchObject({ code: "svix_circuit_open", retryAfterSeconds: 1 });
    expect(t.gateway.blockedMs()).toBe(250);
    probe.release("ok");
    expect(await probing).toBe("ok");
    expect(await t.gauge(t.metrics.circuitOpen)).toBe(0);
    expect(t.recoveries()).toBe(1);
    expect(t.gateway.recoveredAt()).toBe(t.now());
    expect(t.gateway.probing()).toBe(false);
    expect(await t.shed()).toEqual({ circuit_open: 2 });
    expect(logged(t.logs, "Svix keeps failing: circuit opened")).toEqual([
      expect.objectContaining({ level: "warn", failures: 3, cooldownMs: 5000, lastError: "svix_unavailable" }),
    ]);
    expect(logged(t.logs, "Svix answers again: circuit closed")).toHaveLength(1);
  });

  it.each<[string, Step, string]>([
    ["429", { retryAfter: 1 }, "svix_rate_limited"],
    ["permanent rejection", "400", "svix_rejected"],
  ])("a probe answered with a %s closes the circuit: Svix is up", async (_name, answer, code) => {
    const t = setup(["503", "503", "503", answer]);
    for (let i = 0; i < 3; i += 1) await t.send();
    t.advance(5000);
    expect(await t.send()).toBe(code);
    expect(t.gateway.probing()).toBe(false);
    expect(t.recoveries()).toBe(1);
    expect(await t.gauge(t.metrics.circuitOpen)).toBe(0);
  });

  it("hedges a probe that does not answer: another goes after probeHedgeMs, three at most, and the first answer decides", async () => {
    const hung = [held(), held(), held()];
    const t = setup(["503", "503", "503", hung[0]!.step, hung[1]!.step, hung[2]!.step, "ok"]);
    for (let i = 0; i < 3; i += 1) await t.send();
    t.advance(5000);
    const first = t.send();
    expect(t.gateway.blockedMs()).toBe(250);
    t.advance(249);
    expect(await t.send()).toBe("svix_circuit_open");
    t.advance(1);
    const second = t.send();
    t.advance(250);
    const third = t.send();
    t.advance(250);
    // Three probes hang: no fourth, however long they take.
    expect(t.gateway.blockedMs()).toBe(250);
    expect(await t.send()).toBe("svix_circuit_open");
    expect(t.calls).toHaveLength(6);
    // The third answers: the circuit closes, and calls flow again while the other two still hang.
    hung[2]!.release("ok");
    expect(await third).toBe("ok");
    expect(t.gateway.probing()).toBe(false);
    expect(t.gateway.blockedMs()).toBe(0);
    expect(await t.send()).toBe("ok");
    // The first two time out later: ordinary failures (the circuit stays closed below the threshold).
    hung[0]!.release("timeout");
    hung[1]!.release("timeout");
    expect([await first, await second]).toEqual(["svix_unavailable", "svix_unavailable"]);
    expect(t.gateway.probing()).toBe(false);
    expect(t.recoveries()).toBe(1);
  });

  it("opens the circuit again when a hedged probe fails at once, and a sibling that times out later does not shorten it", async () => {
    const hung = held();
    const t = setup(["503", "503", "503", hung.step, "503", "ok"]);
    for (let i = 0; i < 3; i += 1) await t.send();
    t.advance(5000);
    const first = t.send();
    t.advance(250);
    expect(await t.send()).toBe("svix_unavailable");
    // Open for a whole cool-down from the failed probe's start.
    expect(t.gateway.blockedMs()).toBe(5000);
    t.advance(100);
    hung.release("timeout");
    expect(await first).toBe("svix_unavailable");
    expect(t.gateway.blockedMs()).toBe(4900);
  });

  it("lets no second probe through when a call from before the circuit opened fails while the probe runs", async () => {
    const early = held();
    const probe = held();
    const t = setup([early.step, "503", probe.step, "ok"], { circuitFailureThreshold: 1 });
    const earlyCall = t.send();
    expect(await t.send()).toBe("svix_unavailable"); // opens the circuit
    t.advance(5000);
    const probing = t.send();
    early.release("503");
    expect(await earlyCall).toBe("svix_unavailable");
    expect(await t.send()).toBe("svix_circuit_open");
    expect(t.calls).toHaveLength(3);
    probe.release("ok");
    expect(await probing).toBe("ok");
  });

  it("does not extend the cool-down when a call from before the circuit opened fails during it", async () => {
    const early = held();
    const t = setup([early.step, "503", "503", "ok"], { circuitFailureThreshold: 2 });
    const earlyCall = t.send();
    for (let i = 0; i < 2; i += 1) expect(await t.send()).toBe("svix_unavailable");
    t.advance(3000);
    early.release("503");
    expect(await earlyCall).toBe("svix_unavailable");
    expect(t.gateway.blockedMs()).toBe(2000);
    t.advance(2000);
    expect(await t.send()).toBe("ok");
  });

  it("learns the pace from every call Svix answered, failures included, but not from calls it never answered", async () => {
    // Answered: two 400s and a 503; two timeouts were not answered. Then a 429: 3 × 0.93 per second.
    const t = setup(["400", "400", "503", "timeout", "timeout", { retryAfter: 1 }], { circuitFailureThreshold: 10 });
    for (let i = 0; i < 6; i += 1) await t.send();
    expect(await t.gauge(t.metrics.svixPace)).toBeCloseTo(2.79, 10);
  });
});
