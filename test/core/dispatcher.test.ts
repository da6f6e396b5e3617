import { describe, expect, it, vi } from "vitest";
import { waitFor } from "../helpers/waitFor.ts";
import {
  CLAIM_TTL,
  HOUR,
  T0,
  emulator,
  expectGivenBack,
  dropTriggers,
  failWith,
  messageCalls,
  queued,
  row,
  sentIds,
  sql,
  store,
  world,
  useDispatcherWorld,
} from "../helpers/dispatcherWorld.ts";

// The dispatcher as the container wires it (src/wiring/container.ts): the real ledger on a real
// database, the real NotificationService, the real resilient gateway and SDK client talking over
// HTTP to the Svix emulator, real metrics and logger. Only time is ours: the dispatcher, the
// service, the gateway and its pacer read one fake clock, so the claim, backoff and release
// times they compute are exact.
useDispatcherWorld();

describe("Dispatcher.pass", () => {
  it("claims the due notifications oldest first, sends each once, in that order, and reports what it claimed and delivered", async () => {
    const w = await world();
    const [a, b, c] = [await queued(), await queued(), await queued()];
    const later = await queued({ due: T0 + 60_000 });
    expect(await w.dispatcher.pass()).toEqual({ claimed: 3, delivered: 3 });
    expect(sentIds()).toEqual([a.id, b.id, c.id]);
    for (const e of [a, b, c]) {
      expect(await row(e.id)).toMatchObject({ status: "delivered", attemptCount: 1, claimExpiresAt: null });
      expect((await store.attemptsOf(e.id)).map((x) => `${x.trigger}:${x.outcome}`)).toEqual(["dispatch:delivered"]);
    }
    // Not due yet: not claimed.
    expect(await row(later.id)).toMatchObject({
      status: "queued",
      nextAttemptAt: new Date(T0 + 60_000),
      attemptCount: 0,
    });
    expect(await w.dispatched()).toEqual({ delivered: 3 });
  });

  it("counts as delivered only what Svix took: a row Svix rejects is claimed, recorded rejected and counted by its outcome", async () => {
    const w = await world();
    emulator.faults.add({ kind: "status", status: 400, operation: "message.create", times: 1 });
    const [rejected, taken] = [await queued(), await queued()];
    expect(await w.dispatcher.pass()).toEqual({ claimed: 2, delivered: 1 });
    expect((await row(rejected.id)).status).toBe("rejected");
    expect((await row(taken.id)).status).toBe("delivered");
    expect(await w.dispatched()).toEqual({ rejected: 1, delivered: 1 });
  });

  it("claims nothing while Svix is blocked (Retry-After window or open circuit), though rows are due", async () => {
    const w = await world();
    emulator.faults.add({ kind: "status", status: 429, retryAfter: "30", operation: "message.create", times: 1 });
    await queued();
    await w.dispatcher.pass();
    const due = await queued();
    const calls = emulator.calls.length;
    w.at(T0 + 29_999);
    expect(await w.dispatcher.pass()).toEqual({ claimed: 0, delivered: 0 });
    expect(emulator.calls.length).toBe(calls);
    expect(await row(due.id)).toMatchObject({ status: "queued", nextAttemptAt: new Date(T0), attemptCount: 0 });
  });

  it("when Svix asks to wait mid-pass (429, Retry-After 30 s), gives the rest back untouched, due exactly when the window ends", async () => {
    const w = await world();
    emulator.faults.add({ kind: "status", status: 429, retryAfter: "30", operation: "message.create", times: 1 });
    const [a, b, c] = [await queued(), await queued(), await queued()];
    expect(await w.dispatcher.pass()).toEqual({ claimed: 3, delivered: 0 });
    // One call: the one Svix answered 429. The others were not tried.
    expect(messageCalls().map((x) => x.status)).toEqual([429]);
    expect(await row(a.id)).toMatchObject({
      status: "queued",
      lastErrorCode: "svix_rate_limited",
      nextAttemptAt: new Date(T0 + 30_000),
      attemptCount: 1,
    });
    await expectGivenBack(b.id, T0 + 30_000);
    await expectGivenBack(c.id, T0 + 30_000);
    // Only the one delivery that was made is counted.
    expect(await w.dispatched()).toEqual({ queued: 1 });
    expect(await w.shed()).toEqual({});
    // When the window has passed, all three go, oldest first.
    w.at(T0 + 30_000);
    expect(await w.dispatcher.pass()).toEqual({ claimed: 3, delivered: 3 });
    expect(sentIds()).toEqual([a.id, b.id, c.id]);
  });

  it("a pass made once stop() was called gives back every row it claimed, unsent and untouched, due at once", async () => {
    const w = await world();
    // Neither does anything on a dispatcher that never started.
    w.dispatcher.wake();
    await w.dispatcher.stop();
    const [a, b] = [await queued(), await queued()];
    w.at(T0 + 5000);
    expect(await w.dispatcher.pass()).toEqual({ claimed: 2, delivered: 0 });
    expect(emulator.calls).toHaveLength(0);
    await expectGivenBack(a.id, T0 + 5000);
    await expectGivenBack(b.id, T0 + 5000);
    expect(await w.dispatched()).toEqual({});
  });

  it("while the circuit is half-open claims a single notification, the oldest, as the probe; the rest once it succeeded", async () => {
    const w = await world({ circuitFailureThreshold: 1, circuitCooldownMs: 5000 });
    emulator.faults.add({ kind: "status", status: 503, operation: "message.create", times: 1 });
    const first = await queued();
    expect(await w.dispatcher.pass()).toEqual({ claimed: 1, delivered: 0 });
    // The failure opened the circuit for 5 s; the row is due when it may probe.
    expect(await row(first.id)).toMatchObject({
      status: "queued",
      lastErrorCode: "svix_unavailable",
      nextAttemptAt: new Date(T0 + 5000),
      failures: 1,
    });
    const [b, c] = [await queued(), await queued()];
    w.at(T0 + 4999);
    expect(await w.dispatcher.pass()).toEqual({ claimed: 0, delivered: 0 });
    w.at(T0 + 5000);
    expect(w.gateway.probing()).toBe(true);
    expect(await w.dispatcher.pass()).toEqual({ claimed: 1, delivered: 1 });
    expect(sentIds()).toEqual([first.id]);
    await expectGivenBack(b.id, T0);
    await expectGivenBack(c.id, T0);
    expect(w.gateway.probing()).toBe(false);
    expect(await w.dispatcher.pass()).toEqual({ claimed: 2, delivered: 2 });
    expect(sentIds()).toEqual([first.id, b.id, c.id]);
  });

  it("once Svix answers again, claims what was last tried before the recovery whatever its backoff, but not what was queued after", async () => {
    const w = await world({ circuitFailureThreshold: 1, circuitCooldownMs: 5000 });
    emulator.faults.add({ kind: "status", status: 503, operation: "message.create", times: 1 });
    await queued();
    await w.dispatcher.pass();
    w.at(T0 + 5000);
    expect(await w.dispatcher.pass()).toEqual({ claimed: 1, delivered: 1 });
    const recovered = T0 + 5000;
    expect(w.gateway.recoveredAt()).toBe(recovered);
    // Both backed off for an hour; one was last touched before Svix came back, one after.
    const before = await queued({ due: recovered + HOUR });
    const after = await queued({ due: recovered + HOUR });
    await sql(`UPDATE notifications SET updated_at = $1 WHERE event_id = $2`, [new Date(recovered - 1), before.id]);
    await sql(`UPDATE notifications SET updated_at = $1 WHERE event_id = $2`, [new Date(recovered + 1), after.id]);
    expect(await w.dispatcher.pass()).toEqual({ claimed: 1, delivered: 1 });
    expect((await row(before.id)).status).toBe("delivered");
    expect(await row(after.id)).toMatchObject({
      status: "queued",
      nextAttemptAt: new Date(recovered + HOUR),
      attemptCount: 0,
    });
  });

  it("paced by Svix's learned rate limit: waits for each booked slot up to 2 s (so Svix's limit is never hit) and gives back a row whose slot is further away", async () => {
    const w = await world({ concurrency: 1 });
    // Svix allows one message per second; the pacer learned that (one call answered, then a 429).
    emulator.faults.setRateLimit({ perSecond: 1, operation: "message.create" });
    w.pacer.answeredCall();
    w.pacer.throttled();
    expect(w.pacer.ratePerSecond).toBe(1);
    const [a, b, c] = [await queued(), await queued(), await queued()];
    // The clock stands still: the three slots booked are 1 s, 2 s and 3 s away.
    expect(await w.dispatcher.pass()).toEqual({ claimed: 3, delivered: 2 });
    expect(sentIds()).toEqual([a.id, b.id]);
    // Svix never had to refuse a call: each went at its slot, no sooner.
    expect(messageCalls().map((x) => x.status)).toEqual([202, 202]);
    // 3 s away (more than 2 s): back to the queue untouched, due at once (no Retry-After window).
    await expectGivenBack(c.id, T0);
    expect(await w.dispatched()).toEqual({ delivered: 2 });
    // The booked slot is used: the call does not take another one from the pace.
    expect(await w.shed()).toEqual({});
  });

  // Found by this file: a row given back used to keep its booking, and the unused bookings piled
  // up as pace debt (later passes sent nothing, the fast path queued everything, and with a
  // backlog the loop claimed and released without pause, booking more each time).
  it("a row given back because its pace slot is too far does not keep that slot booked: the pace does not fall further behind with every pass", async () => {
    const w = await world({ batchSize: 10, concurrency: 1 });
    // One call per second learned a second ago: one token saved up at T0.
    w.at(T0 - 1000);
    w.pacer.answeredCall();
    w.pacer.throttled();
    w.at(T0);
    for (let i = 0; i < 10; i += 1) await queued();
    // Slots now, +1 s, +2 s: three sent; the other seven given back (their slots, +3 s … +9 s, are never used).
    expect(await w.dispatcher.pass()).toEqual({ claimed: 10, delivered: 3 });
    // Three seconds later, at one call per second, a call may go at once and the next pass sends again.
    w.at(T0 + 3000);
    expect(w.gateway.waitMs()).toBe(0);
    expect(await w.dispatcher.pass()).toEqual({ claimed: 7, delivered: 3 });
  });

  it("looks again after waiting for its pace slot: a row is given back, unsent, when the instance began stopping meanwhile", async () => {
    const w = await world({ concurrency: 1 });
    w.pacer.answeredCall();
    w.pacer.throttled();
    // A slot booked by someone else: a's is 2 s away (it waits, in real time), b's 3 s (given back at once).
    expect(w.pacer.reserve()).toBe(1000);
    const [a, b] = [await queued(), await queued()];
    const passing = w.dispatcher.pass();
    // stop() comes while a waits: once a has booked its slot (the next free one is then 3 s away).
    await waitFor(() => w.pacer.waitMs() >= 3000, 20_000, "a's slot booked");
    await w.dispatcher.stop();
    expect(await passing).toEqual({ claimed: 2, delivered: 0 });
    expect(sentIds()).toEqual([]);
    await expectGivenBack(a.id, T0);
    await expectGivenBack(b.id, T0);
  });

  it("never has more deliveries in flight than `concurrency`: none is shed by a Svix bulkhead of that size", async () => {
    const w = await world({ concurrency: 2, maxInFlight: 2 });
    const events = [await queued(), await queued(), await queued()];
    expect(await w.dispatcher.pass()).toEqual({ claimed: 3, delivered: 3 });
    expect(await w.shed()).toEqual({});
    expect(new Set(sentIds())).toEqual(new Set(events.map((e) => e.id)));
  });

  it("when the ledger cannot record an outcome: counts it by the error's code, does not log it as unexpected, goes on, and leaves the claim (claimTtlMs long) to expire", async () => {
    const w = await world();
    const [lost, next] = [await queued(), await queued()];
    await failWith(
      "dispatcher_test_fail_attempts",
      "delivery_attempts",
      "BEFORE INSERT",
      `NEW.event_id = '${lost.id}'`,
    );
    expect(await w.dispatcher.pass()).toEqual({ claimed: 2, delivered: 1 });
    expect(await w.dispatched()).toEqual({ database_unavailable: 1, delivered: 1 });
    expect(w.logs().filter((l) => l.message === "dispatch failed unexpectedly")).toEqual([]);
    expect((await row(next.id)).status).toBe("delivered");
    // Svix holds it, the ledger does not know: the claim the pass took stays until it expires.
    expect(sentIds()).toEqual([lost.id, next.id]);
    expect(await row(lost.id)).toMatchObject({
      status: "received",
      claimExpiresAt: new Date(T0 + CLAIM_TTL),
      updatedAt: new Date(T0),
      attemptCount: 0,
    });
    await dropTriggers();
    w.at(T0 + CLAIM_TTL - 1);
    expect(await w.dispatcher.pass()).toEqual({ claimed: 0, delivered: 0 });
    w.at(T0 + CLAIM_TTL);
    expect(await w.dispatcher.pass()).toEqual({ claimed: 1, delivered: 1 });
    expect((await row(lost.id)).status).toBe("delivered");
    // Svix's idempotency key: still one message.
    expect(sentIds()).toEqual([lost.id, next.id]);
  });

  it("marks a claimed row whose stored payload is no event failed at once, saying why, and goes on", async () => {
    const w = await world();
    const [notObject, noProject, next] = [await queued(), await queued(), await queued()];
    // JSON null in the column (SQL NULL, a purged payload, is never claimed), and a project that is not a string.
    await sql(`UPDATE notifications SET payload = 'null' WHERE event_id = $1`, [notObject.id]);
    await sql(`UPDATE notifications SET payload = $1 WHERE event_id = $2`, [
      JSON.stringify({ ...noProject, project: {} }),
      noProject.id,
    ]);
    expect(await w.dispatcher.pass()).toEqual({ claimed: 3, delivered: 1 });
    expect(sentIds()).toEqual([next.id]);
    expect(await w.dispatched()).toEqual({ failed: 2, delivered: 1 });
    for (const id of [notObject.id, noProject.id]) {
      expect(await row(id)).toMatchObject({
        status: "failed",
        claimExpiresAt: null,
        lastErrorCode: "invalid_event",
        lastError: expect.stringContaining("not an event"),
      });
    }
    expect(
      w.logs().filter((l) => l.message === "notification failed: its stored payload is not an event"),
    ).toHaveLength(2);
    // Never claimed again: nothing is due.
    w.at(T0 + 10 * CLAIM_TTL);
    expect(await w.dispatcher.pass()).toEqual({ claimed: 0, delivered: 0 });
  });

  it("counts an unexpected failure as a failed delivery: logged with its cause, backed off, then failed past the horizon", async () => {
    const w = await world();
    const event = await queued();
    // A bug in the relay's own code (nothing Svix or the ledger can do makes one): simulated once per pass.
    const spy = vi.spyOn(w.gateway, "createMessage").mockRejectedValue(new TypeError("a bug"));
    expect(await w.dispatcher.pass()).toEqual({ claimed: 1, delivered: 0 });
    const first = await row(event.id);
    expect(first).toMatchObject({ status: "queued", failures: 1, lastErrorCode: "internal", claimExpiresAt: null });
    // Backed off like any failed delivery: base 1 s, jittered into [0.5 s, 1 s].
    expect(first.nextAttemptAt!.getTime() - T0).toBeGreaterThanOrEqual(500);
    expect(first.nextAttemptAt!.getTime() - T0).toBeLessThanOrEqual(1000);
    const logged = w.logs().filter((l) => l.message === "delivery failed unexpectedly");
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({
      level: "error",
      eventId: event.id,
      err: { type: "TypeError", message: "a bug" },
    });
    // Past the retry horizon the next unexpected failure gives up, for an operator to look at.
    w.at(T0 + 73 * HOUR);
    await w.dispatcher.pass();
    expect(await row(event.id)).toMatchObject({ status: "failed", lastErrorCode: "internal", failures: 1 });
    expect(w.logs().filter((l) => l.message === "delivery failed unexpectedly")).toHaveLength(2);
    expect(spy).toHaveBeenCalledTimes(2);
    expect(sentIds()).toEqual([]);
  });
});
