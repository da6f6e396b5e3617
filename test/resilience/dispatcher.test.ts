import { afterEach, describe, expect, it } from "vitest";
import { makeEvent } from "../helpers/events.ts";
import { startHarness, type Harness } from "../helpers/relayHarness.ts";
import { waitFor } from "../helpers/waitFor.ts";
import { insertClaimed } from "../helpers/claimedRow.ts";

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const makeDue = (harness: Harness) =>
  harness.container.db.prisma.notification.updateMany({
    where: { status: "queued" },
    data: { nextAttemptAt: new Date(Date.now() - 1) },
  });

describe("the dispatcher", () => {
  it("delivers an event a crashed process left `received` (claimed, never sent), once its claim expired", async () => {
    // The whole request budget for the Svix call: on a loaded machine the first call of a fresh
    // relay once took over the default 3 s, and its retry made a second attempt.
    h = await startHarness({ SVIX_TIMEOUT_MS: "7000" });
    // What a process killed between its claim and its Svix call leaves behind.
    const event = await insertClaimed(h.container.store, {
      claimToken: "dead-process",
      claimExpiresAt: new Date(Date.now() - 1000),
    });
    expect(await h.container.dispatcher.pass()).toEqual({ claimed: 1, delivered: 1 });
    const stored = (await h.http.get(`/notifications/${event.id}`).expect(200)).body.data;
    expect(stored.status).toBe("delivered");
    expect(stored.attempts.map((a: { trigger: string }) => a.trigger)).toEqual(["dispatch"]);
    expect(h.emulator.state.allMessages()).toHaveLength(1);
  });

  it("leaves a live claim alone", async () => {
    h = await startHarness();
    await insertClaimed(h.container.store, {
      claimToken: "live",
      claimExpiresAt: new Date(Date.now() + 60_000),
    });
    expect(await h.container.dispatcher.pass()).toEqual({ claimed: 0, delivered: 0 });
    expect(h.emulator.calls).toHaveLength(0);
  });

  it("claims nothing while Svix has asked this instance to wait, though notifications are due", async () => {
    h = await startHarness({ SVIX_MAX_RETRIES: "0" });
    h.emulator.faults.add({ kind: "status", status: 429, retryAfter: "30", operation: "message.create", times: 1 });
    const event = makeEvent();
    const res = await h.http.post("/notifications").send(event).expect(202);
    // Svix's Retry-After decides the next attempt.
    expect(Date.parse(res.body.data.nextAttemptAt) - Date.now()).toBeGreaterThan(25_000);
    await makeDue(h);
    const calls = h.emulator.calls.length;
    expect(await h.container.dispatcher.pass()).toEqual({ claimed: 0, delivered: 0 });
    expect(h.emulator.calls.length).toBe(calls);
    expect((await h.container.store.summary(event.id))?.status).toBe("queued");
  });

  it("marks a notification failed once it is older than the retry horizon, and keeps it for replay", async () => {
    h = await startHarness({ SVIX_MAX_RETRIES: "0", RETRY_HORIZON_HOURS: "1", CIRCUIT_FAILURE_THRESHOLD: "1000" });
    h.emulator.faults.add({ kind: "status", status: 503, operation: "message.create" });
    const event = makeEvent();
    await h.http.post("/notifications").send(event).expect(202);
    await h.container.db.prisma.notification.update({
      where: { eventId: event.id },
      data: { createdAt: new Date(Date.now() - 3_600_000 - 1000), nextAttemptAt: new Date() },
    });
    await h.container.dispatcher.pass();
    const stored = (await h.http.get(`/notifications/${event.id}`).expect(200)).body.data;
    expect(stored).toMatchObject({ status: "failed", lastError: { code: "svix_unavailable" } });
    expect(stored.lastError.message).toMatch(/retry horizon/);
    h.emulator.faults.clear();
    expect((await h.http.post(`/notifications/${event.id}/replay`).type("json").expect(200)).body.data.status).toBe(
      "delivered",
    );
  });

  it("sends one notification as the probe while the circuit is half-open, then the rest once Svix answers, oldest first", async () => {
    h = await startHarness({ SVIX_MAX_RETRIES: "0", CIRCUIT_FAILURE_THRESHOLD: "2", CIRCUIT_COOLDOWN_MS: "300" });
    h.emulator.faults.add({ kind: "status", status: 503, operation: "message.create", times: 2 });
    const events = Array.from({ length: 6 }, () => makeEvent());
    for (const e of events) await h.http.post("/notifications").send(e).expect(202);
    // Two failures opened the circuit; the other four were queued without a call.
    expect(h.emulator.calls).toHaveLength(2);
    await new Promise((r) => setTimeout(r, 350));
    await makeDue(h);
    expect(h.container.svix.probing()).toBe(true);
    expect(await h.container.dispatcher.pass()).toEqual({ claimed: 1, delivered: 1 });
    expect(h.container.svix.probing()).toBe(false);
    expect(await h.container.dispatcher.pass()).toEqual({ claimed: 5, delivered: 5 });
    const order = h.emulator.state.allMessages().map((m) => m.eventId);
    expect(order).toEqual(events.map((e) => e.id));
  });

  it("recovers from an outage that ends with two hung calls without waiting out their timeouts: the probe is hedged", async () => {
    h = await startHarness({
      SVIX_MAX_RETRIES: "0",
      CIRCUIT_FAILURE_THRESHOLD: "3",
      CIRCUIT_COOLDOWN_MS: "500",
      DISPATCH_ENABLED: "true",
      // A long pause between passes: the loop must not take it after a probe that failed or hangs.
      DISPATCH_INTERVAL_MS: "2000",
    });
    h.emulator.faults.add({ kind: "status", status: 503, operation: "message.create" });
    const events = Array.from({ length: 10 }, () => makeEvent());
    for (const e of events) await h.http.post("/notifications").send(e).expect(202);
    await new Promise((r) => setTimeout(r, 1200));
    h.emulator.faults.clear();
    h.emulator.faults.add({ kind: "hang", operation: "message.create", times: 2 });
    const recovered = Date.now();
    await waitFor(
      async () => (await h!.container.db.prisma.notification.count({ where: { status: "delivered" } })) === 10,
      15_000,
    );
    // Each hung probe waited out its 1 s timeout and a pause between passes before the next one
    // went: 4–5 s. Hedged, the next probe goes 250 ms after a silent one: the cool-down left
    // (≤ 0.5 s), two hedges, and the backlog.
    expect(Date.now() - recovered).toBeLessThan(3000);
    const afterEnd = h.emulator.calls.filter((c) => c.operation === "message.create" && c.at >= recovered);
    expect(afterEnd.filter((c) => c.status === 0)).toHaveLength(2);
    expect(
      h.emulator.state
        .allMessages()
        .map((m) => m.eventId)
        .sort(),
    ).toEqual(events.map((e) => e.id).sort());
  });

  it("delivers everything queued within two seconds of Svix coming back, however long each one's backoff", async () => {
    h = await startHarness({
      SVIX_MAX_RETRIES: "0",
      CIRCUIT_FAILURE_THRESHOLD: "3",
      CIRCUIT_COOLDOWN_MS: "500",
      DISPATCH_ENABLED: "true",
      DISPATCH_INTERVAL_MS: "200",
      RETRY_BASE_DELAY_MS: "60000",
    });
    h.emulator.faults.add({ kind: "status", status: 503, operation: "message.create" });
    const events = Array.from({ length: 10 }, () => makeEvent());
    for (const e of events) await h.http.post("/notifications").send(e).expect(202);
    // Some were tried and failed: their own backoff is 30–60 s.
    const backedOff = await h.container.db.prisma.notification.count({
      where: { failures: { gt: 0 }, nextAttemptAt: { gt: new Date(Date.now() + 20_000) } },
    });
    expect(backedOff).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 1200));
    h.emulator.faults.clear();
    const recovered = Date.now();
    await waitFor(
      async () => (await h!.container.db.prisma.notification.count({ where: { status: "delivered" } })) === 10,
      15_000,
    );
    // The probe may wait out the circuit's cool-down (0.5 s) and a dispatcher pause (0.25 s).
    expect(Date.now() - recovered).toBeLessThan(2000 + 1500);
    expect(h.emulator.state.allMessages()).toHaveLength(10);
  });
});
