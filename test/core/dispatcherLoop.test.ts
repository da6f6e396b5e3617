import { describe, expect, it, vi } from "vitest";
import { waitFor, waitForValue } from "../helpers/waitFor.ts";
import {
  HOUR,
  T0,
  database,
  emulator,
  dropTriggers,
  expectGivenBack,
  failWith,
  pausesOf,
  queued,
  recordTimers,
  row,
  sentIds,
  world,
  useDispatcherWorld,
} from "../helpers/dispatcherWorld.ts";

// The dispatcher as the container wires it (src/wiring/container.ts): the real ledger on a real
// database, the real NotificationService, the real resilient gateway and SDK client talking over
// HTTP to the Svix emulator, real metrics and logger. Only time is ours: the dispatcher, the
// service, the gateway and its pacer read one fake clock, so the claim, backoff and release
// times they compute are exact.
useDispatcherWorld();

describe("the dispatcher's loop (start, wake, stop)", () => {
  it("pauses intervalMs × (0.75 + random/2) after a pass that found less than a full batch, on a timer that does not keep the process alive", async () => {
    const seen = recordTimers();
    vi.spyOn(Math, "random").mockReturnValue(0.6);
    const w = await world({ intervalMs: HOUR });
    w.dispatcher.start();
    const pause = await waitForValue(() => pausesOf(seen, HOUR)[0], "the loop's pause");
    expect(pause.ms).toBeCloseTo(HOUR * 1.05, 3);
    expect(pause.timer.hasRef()).toBe(false);
  });

  it("while Svix is blocked, sleeps exactly until it may call again, without a pass", async () => {
    const w = await world({ intervalMs: HOUR });
    emulator.faults.add({ kind: "status", status: 429, retryAfter: "30", operation: "message.create", times: 1 });
    await queued();
    await w.dispatcher.pass();
    w.at(T0 + 12_000);
    const due = await queued();
    const seen = recordTimers();
    w.dispatcher.start();
    // 30 s from T0, seen at T0 + 12 s: 18 s left.
    const pause = await waitForValue(() => seen.find((t) => t.ms === 18_000), "the loop's pause until the window ends");
    expect(pause.timer.hasRef()).toBe(false);
    // Not the pause after a pass.
    expect(pausesOf(seen, HOUR)).toEqual([]);
    expect(await row(due.id)).toMatchObject({ status: "queued", attemptCount: 0 });
  });

  it("passes again at once while passes claim a full batch, and pauses once one claims less", async () => {
    const seen = recordTimers();
    const w = await world({ batchSize: 2, intervalMs: HOUR });
    const events = [await queued(), await queued(), await queued(), await queued(), await queued()];
    w.dispatcher.start();
    // 2 + 2 + 1: three passes, the last one short of a batch.
    await waitFor(
      async () => (await database.db.prisma.notification.count({ where: { status: "delivered" } })) === 5,
      20_000,
      "all five delivered",
    );
    await waitFor(() => pausesOf(seen, HOUR).length > 0, 20_000, "the pause");
    expect(pausesOf(seen, HOUR)).toHaveLength(1);
    expect(sentIds()).toEqual(events.map((e) => e.id));
  });

  it("wake() ends the pause: a row queued meanwhile is delivered without waiting for the interval", async () => {
    const seen = recordTimers();
    const w = await world({ intervalMs: HOUR });
    w.dispatcher.start();
    await waitFor(() => pausesOf(seen, HOUR).length > 0, 20_000, "the pause");
    const event = await queued();
    w.dispatcher.wake();
    await waitFor(async () => (await row(event.id)).status === "delivered", 20_000, "delivered after wake()");
  });

  it("stop() ends a pause at once, and start() after stop() runs the loop again", async () => {
    const seen = recordTimers();
    const w = await world({ intervalMs: HOUR });
    w.dispatcher.start();
    await waitFor(() => pausesOf(seen, HOUR).length > 0, 20_000, "the pause");
    await w.dispatcher.stop();
    const event = await queued();
    w.dispatcher.start();
    await waitFor(async () => (await row(event.id)).status === "delivered", 20_000, "delivered after the restart");
  }, 30_000);

  it("stop() during a pass lets the delivery in flight finish, gives back the rest, and returns once the pass has ended", async () => {
    const w = await world({ intervalMs: HOUR });
    emulator.faults.add({ kind: "latency", minMs: 2000, maxMs: 2000, operation: "message.create", times: 1 });
    const [a, b, c] = [await queued(), await queued(), await queued()];
    w.dispatcher.start();
    await waitFor(
      async () => (await w.metrics.svixInFlight.get()).values[0]?.value === 1,
      20_000,
      "the first call in flight",
    );
    await w.dispatcher.stop();
    expect((await row(a.id)).status).toBe("delivered");
    await expectGivenBack(b.id, T0);
    await expectGivenBack(c.id, T0);
    expect(sentIds()).toEqual([a.id]);
  }, 30_000);

  it("stop(timeoutMs) returns once its time is spent and gives back, due at once, the row whose Svix call hangs and the rows not sent; the late answer is still recorded", async () => {
    const w = await world({ intervalMs: HOUR });
    emulator.faults.add({ kind: "latency", minMs: 5000, maxMs: 5000, operation: "message.create", times: 1 });
    const [a, b] = [await queued(), await queued()];
    const inFlight = async () => (await w.metrics.svixInFlight.get()).values[0]?.value;
    w.dispatcher.start();
    await waitFor(async () => (await inFlight()) === 1, 20_000, "the first call in flight");
    const started = performance.now();
    await w.dispatcher.stop(300);
    // Well before the hung call's 5 s (a wide margin: the machine is shared).
    expect(performance.now() - started).toBeLessThan(3500);
    await expectGivenBack(a.id, T0);
    await expectGivenBack(b.id, T0);
    expect(w.logs().find((l) => String(l.message).includes("handed back"))).toMatchObject({
      level: "warn",
      released: 2,
    });
    // The hung call lands: Svix holds a's message, and its answer is recorded though the claim
    // was given back (Svix's answer is the truth; a send by another instance meanwhile would
    // have been deduplicated by the idempotency key). b stays given back.
    await waitFor(async () => (await row(a.id)).status === "delivered", 20_000, "the hung call's answer recorded");
    expect(sentIds()).toEqual([a.id]);
    await expectGivenBack(b.id, T0);
  }, 30_000);

  it("start() while running starts no second loop: no two passes deliver at once", async () => {
    // A bulkhead of one Svix call: two loops would each deliver one row at the same time.
    const w = await world({ batchSize: 1, maxInFlight: 1, intervalMs: HOUR });
    emulator.faults.add({ kind: "latency", minMs: 1000, maxMs: 1000, operation: "message.create" });
    const [a, b] = [await queued(), await queued()];
    w.dispatcher.start();
    w.dispatcher.start();
    // Settled: delivered, or queued after a try (shed by the bulkhead).
    const settled = async (id: string) => {
      const r = await row(id);
      return r.status === "delivered" || r.lastErrorCode !== null;
    };
    await waitFor(async () => (await settled(a.id)) && (await settled(b.id)), 20_000, "both settled");
    expect(await w.shed()).toEqual({});
    expect((await row(a.id)).status).toBe("delivered");
    expect((await row(b.id)).status).toBe("delivered");
  }, 30_000);

  it("a pass that fails (the ledger is down) is logged as a warning with its error, and the loop carries on", async () => {
    const w = await world({ intervalMs: HOUR });
    await failWith("dispatcher_test_fail_claims", "notifications", "BEFORE UPDATE", `NEW.status = 'received'`);
    const event = await queued();
    w.dispatcher.start();
    const warning = await waitForValue(
      () => w.logs().find((l) => l.message === "dispatcher pass failed"),
      "the warning",
    );
    expect(warning).toMatchObject({ level: "warn", err: { type: "AppError", code: "database_unavailable" } });
    expect(String((warning.err as { message: string }).message)).toContain("claim due");
    await dropTriggers();
    w.dispatcher.wake();
    await waitFor(async () => (await row(event.id)).status === "delivered", 20_000, "delivered by the next pass");
  });
});
