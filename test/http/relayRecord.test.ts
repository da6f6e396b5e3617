// What NotificationService.relay() and replay() answer, log and count for each way an event can
// end, called as the entry points call them, on the relay as `npm start` builds it.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Counter } from "prom-client";
import { eventDigest } from "../../src/core/eventDigest.ts";
import type { RelayOutcome } from "../../src/core/relayOutcome.ts";
import { appUidFor } from "../../src/core/svixIdentifiers.ts";
import type { Transport } from "../../src/core/transport.ts";
import { makeEvent } from "../helpers/events.ts";
import { startHarness, type Harness } from "../helpers/relayHarness.ts";
import { waitFor, waitForValue } from "../helpers/waitFor.ts";
import { insertClaimed } from "../helpers/claimedRow.ts";

const BODY: Transport = { kind: "body" };
let h: Harness;
beforeAll(async () => {
  h = await startHarness({
    SVIX_MAX_RETRIES: "0",
    CIRCUIT_FAILURE_THRESHOLD: "1000",
    RETRY_BASE_DELAY_MS: "60000",
    RETRY_MAX_DELAY_MS: "600000",
  });
});
afterAll(() => h.close());
beforeEach(() => h.emulator.reset());

async function counted(counter: Counter<string>, labels: Record<string, string> = {}): Promise<number> {
  const { values } = await counter.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want))
    .reduce((sum, v) => sum + v.value, 0);
}
const outcomes = (outcome: string) => counted(h.container.metrics.notifications as Counter<string>, { outcome });
const duplicates = () => counted(h.container.metrics.duplicates as Counter<string>);
async function latencyCount(outcome: string): Promise<number> {
  const { values } = await h.container.metrics.svixLatency.get();
  return values.find((v) => v.metricName?.endsWith("_count") && v.labels.outcome === outcome)?.value ?? 0;
}
const logOf = (eventId: string, message = "notification relayed") =>
  h.logs.filter((l) => l.message === message && l.eventId === eventId);
const row = (eventId: string) => h.container.store.summary(eventId);

describe("a first delivery", () => {
  it("answers delivered with Svix's message, and logs and counts it once", async () => {
    const event = makeEvent({ project: "relay-record", type: "subscription.activated" });
    const [delivered, latency] = [await outcomes("delivered"), await latencyCount("delivered")];
    const outcome = await h.container.service.relay(event, BODY);
    const message = h.emulator.state.allMessages().find((m) => m.eventId === event.id);
    expect(outcome).toEqual<RelayOutcome>({
      eventId: event.id,
      status: "delivered",
      duplicate: false,
      svixAppUid: appUidFor("relay-record"),
      svixMessageId: message!.id,
      nextAttemptAt: null,
      lastError: null,
    });
    expect(await outcomes("delivered")).toBe(delivered + 1);
    expect(await latencyCount("delivered")).toBe(latency + 1);
    const [line] = logOf(event.id);
    expect(line).toMatchObject({
      severity: "INFO",
      project: "relay-record",
      eventType: "subscription.activated",
      trigger: "ingress",
      outcome: "delivered",
      svixCalls: 1,
      svixMessageId: message!.id,
    });
    expect(line).not.toHaveProperty("errorCode");
    expect(logOf(event.id)).toHaveLength(1);
    expect(await row(event.id)).toMatchObject({
      status: "delivered",
      svixAppUid: appUidFor("relay-record"),
      svixMessageId: message!.id,
      failures: 0,
      attemptCount: 1,
    });
  });

  it("answers rejected when Svix refuses the message for good, with Svix's status in a warning", async () => {
    h.emulator.faults.add({ kind: "status", status: 422, operation: "message.create", times: 1 });
    const event = makeEvent();
    const rejected = await outcomes("rejected");
    const outcome = await h.container.service.relay(event, BODY);
    expect(outcome).toMatchObject({
      status: "rejected",
      duplicate: false,
      svixMessageId: null,
      nextAttemptAt: null,
      lastError: { code: "svix_rejected" },
    });
    expect(outcome.lastError!.message).not.toBe("");
    expect(await outcomes("rejected")).toBe(rejected + 1);
    expect(logOf(event.id)[0]).toMatchObject({
      severity: "WARNING",
      outcome: "rejected",
      errorCode: "svix_rejected",
      upstreamStatus: 422,
      svixCalls: 1,
    });
    // A refusal is not the event's failure to deliver: no backoff builds up.
    expect(await row(event.id)).toMatchObject({ status: "rejected", failures: 0, lastErrorCode: "svix_rejected" });
  });

  it("answers queued after a retryable failure, backing off from RETRY_BASE_DELAY_MS, and records the failure", async () => {
    h.emulator.faults.add({ kind: "status", status: 503, operation: "message.create", times: 1 });
    const event = makeEvent();
    const before = Date.now();
    const queued = await outcomes("queued");
    const outcome = await h.container.service.relay(event, BODY);
    expect(outcome).toMatchObject({
      status: "queued",
      duplicate: false,
      svixMessageId: null,
      lastError: { code: "svix_unavailable" },
    });
    const delay = outcome.nextAttemptAt!.getTime() - before;
    // First failure: jittered into [base/2, base] = [30 s, 60 s] after the attempt (plus the test's own time).
    expect(delay).toBeGreaterThanOrEqual(30_000);
    expect(delay).toBeLessThanOrEqual(60_000 + (Date.now() - before));
    expect(await outcomes("queued")).toBe(queued + 1);
    const stored = await row(event.id);
    expect(stored).toMatchObject({ status: "queued", failures: 1, lastErrorCode: "svix_unavailable" });
    expect(stored!.nextAttemptAt!.getTime()).toBe(outcome.nextAttemptAt!.getTime());
    const [line] = logOf(event.id);
    expect(line).toMatchObject({
      severity: "INFO",
      outcome: "queued",
      errorCode: "svix_unavailable",
      upstreamStatus: 503,
      svixCalls: 1,
    });
    expect(Date.parse(line!.nextAttemptAt as string)).toBe(outcome.nextAttemptAt!.getTime());
  });
});

describe("an event known before", () => {
  it("answers a delivered one from the ledger: Svix's message, no call, counted as a duplicate", async () => {
    const event = makeEvent();
    const first = await h.container.service.relay(event, BODY);
    const [calls, dups, delivered] = [h.emulator.calls.length, await duplicates(), await outcomes("delivered")];
    const again = await h.container.service.relay(event, BODY);
    expect(again).toEqual({ ...first, duplicate: true });
    expect(h.emulator.calls.length).toBe(calls);
    expect(await duplicates()).toBe(dups + 1);
    expect(await outcomes("delivered")).toBe(delivered);
    expect(logOf(event.id)).toHaveLength(1);
  });

  it("answers a queued one with its next attempt and its last error, not as a delivered duplicate", async () => {
    h.emulator.faults.add({ kind: "status", status: 503, operation: "message.create", times: 1 });
    const event = makeEvent();
    const first = await h.container.service.relay(event, BODY);
    const dups = await duplicates();
    const again = await h.container.service.relay(event, BODY);
    expect(again).toEqual({
      ...first,
      duplicate: true,
      lastError: { code: "svix_unavailable", message: first.lastError!.message },
    });
    expect(await duplicates()).toBe(dups);
  });

  it("answers a rejected one as rejected, with why", async () => {
    h.emulator.faults.add({ kind: "status", status: 400, operation: "message.create", times: 1 });
    const event = makeEvent();
    const first = await h.container.service.relay(event, BODY);
    const again = await h.container.service.relay(event, BODY);
    expect(again).toEqual({ ...first, duplicate: true });
    expect(again).toMatchObject({ status: "rejected", nextAttemptAt: null, lastError: { code: "svix_rejected" } });
  });

  it("answers one still in flight elsewhere as queued until its claim expires, when told not to wait", async () => {
    const event = makeEvent();
    const claimExpiresAt = new Date(Date.now() + 30_000);
    expect(
      await h.container.store.insert({
        event,
        transport: BODY,
        payloadDigest: eventDigest(event),
        status: "received",
        claimToken: "someone-else",
        claimExpiresAt,
      }),
    ).toBeNull();
    const outcome = await h.container.service.relay(event, BODY, { waitMs: 0 });
    expect(outcome).toEqual<RelayOutcome>({
      eventId: event.id,
      status: "queued",
      duplicate: true,
      svixAppUid: null,
      svixMessageId: null,
      nextAttemptAt: claimExpiresAt,
      lastError: null,
    });
    expect(h.emulator.calls).toHaveLength(0);
  });

  it("compares the bodies themselves on a row written before payload digests were kept", async () => {
    const event = makeEvent();
    await h.container.service.relay(event, BODY);
    await h.container.db.prisma.notification.update({ where: { eventId: event.id }, data: { payloadDigest: null } });
    // The same event with its keys in another order is the same event.
    const reordered = Object.fromEntries(Object.entries(event).reverse()) as typeof event;
    expect(await h.container.service.relay(reordered, BODY)).toMatchObject({ status: "delivered", duplicate: true });
    await expect(
      h.container.service.relay({ ...event, data: { ...event.data, email: "other@example.com" } }, BODY),
    ).rejects.toMatchObject({
      code: "event_id_conflict",
      message: `Event ${event.id} was already received with a different body`,
    });
    // Neither the body nor its digest is known any more (purged before digests): nothing to compare with.
    await h.container.db.prisma.notification.update({ where: { eventId: event.id }, data: { payload: null } as never });
    expect(await h.container.service.relay({ ...event, time: "2026-11-28T00:00:00Z" }, BODY)).toMatchObject({
      duplicate: true,
    });
    expect(h.emulator.state.allMessages().filter((m) => m.eventId === event.id)).toHaveLength(1);
  });

  it("refuses the same id with another body, by digest", async () => {
    const event = makeEvent();
    await h.container.service.relay(event, BODY);
    await expect(h.container.service.relay({ ...event, type: "user.updated" }, BODY)).rejects.toMatchObject({
      code: "event_id_conflict",
    });
  });
});

describe("operator replay", () => {
  it("names what it refuses: unknown, delivered (with Svix's message), purged (with the date), in flight", async () => {
    await expect(h.container.service.replay("evt_unknown_to_the_ledger")).rejects.toMatchObject({
      code: "not_found",
      message: "No notification for event evt_unknown_to_the_ledger",
    });

    const delivered = makeEvent();
    const sent = await h.container.service.relay(delivered, BODY);
    await expect(h.container.service.replay(delivered.id)).rejects.toMatchObject({
      code: "already_delivered",
      message: `Event ${delivered.id} is already delivered (Svix message ${sent.svixMessageId}); resend it from Svix`,
    });

    h.emulator.faults.add({ kind: "status", status: 400, operation: "message.create", times: 1 });
    const purged = makeEvent();
    await h.container.service.relay(purged, BODY);
    const purgedAt = new Date("2026-10-01T00:00:00.000Z");
    await h.container.db.prisma.notification.update({
      where: { eventId: purged.id },
      data: { payload: null, payloadPurgedAt: purgedAt } as never,
    });
    await expect(h.container.service.replay(purged.id)).rejects.toMatchObject({
      code: "payload_purged",
      message: `The payload of event ${purged.id} was erased on 2026-10-01T00:00:00.000Z (personal-data retention); it cannot be replayed`,
    });

    const inFlight = await insertClaimed(h.container.store, {
      claimToken: "elsewhere",
      claimExpiresAt: new Date(Date.now() + 30_000),
    });
    await expect(h.container.service.replay(inFlight.id)).rejects.toMatchObject({
      code: "event_in_flight",
      retryAfterSeconds: 1,
    });
    expect(h.emulator.calls.filter((c) => c.operation === "message.create")).toHaveLength(2);
  });

  it("marks failed, not queued, a notification older than the retry horizon that Svix still fails", async () => {
    h.emulator.faults.add({ kind: "status", status: 503, operation: "message.create", times: 2 });
    const event = makeEvent();
    await h.container.service.relay(event, BODY);
    await h.container.db.prisma.notification.update({
      where: { eventId: event.id },
      data: { createdAt: new Date(Date.now() - 73 * 3_600_000) },
    });
    const failed = await outcomes("failed");
    const outcome = await h.container.service.replay(event.id);
    expect(outcome).toMatchObject({ status: "failed", nextAttemptAt: null, lastError: { code: "svix_unavailable" } });
    expect(await outcomes("failed")).toBe(failed + 1);
    const stored = await row(event.id);
    expect(stored).toMatchObject({ status: "failed", failures: 2, lastErrorCode: "svix_unavailable" });
    expect(stored!.lastError).toMatch(/ \(gave up: older than the retry horizon\)$/);
    expect(logOf(event.id).at(-1)).toMatchObject({ severity: "WARNING", trigger: "replay", outcome: "failed" });
  });

  it("keeps a young notification queued when a replay fails, one more failure on its backoff", async () => {
    h.emulator.faults.add({ kind: "status", status: 503, operation: "message.create", times: 2 });
    const event = makeEvent();
    await h.container.service.relay(event, BODY);
    const before = Date.now();
    const outcome = await h.container.service.replay(event.id);
    expect(outcome.status).toBe("queued");
    // Second failure: [base, 2 × base] = [60 s, 120 s].
    expect(outcome.nextAttemptAt!.getTime() - before).toBeGreaterThanOrEqual(60_000);
    expect(outcome.nextAttemptAt!.getTime() - before).toBeLessThanOrEqual(120_000 + (Date.now() - before));
    expect(await row(event.id)).toMatchObject({ status: "queued", failures: 2 });
  });
});

describe("while Svix has asked this instance to wait", () => {
  let paused: Harness;
  beforeAll(async () => {
    paused = await startHarness({ SVIX_MAX_RETRIES: "0", CIRCUIT_FAILURE_THRESHOLD: "1000" });
  });
  afterAll(() => paused.close());

  it("queues an event at once for when the wait ends: one write, no Svix call", async () => {
    paused.emulator.faults.add({
      kind: "status",
      status: 429,
      retryAfter: "120",
      operation: "message.create",
      times: 1,
    });
    const limited = await paused.container.service.relay(makeEvent(), BODY);
    expect(limited).toMatchObject({ status: "queued", lastError: { code: "svix_rate_limited" } });
    expect(paused.container.svix.waitMs()).toBeGreaterThan(100_000);

    const event = makeEvent();
    const queuedCount = () => counted(paused.container.metrics.notifications as Counter<string>, { outcome: "queued" });
    const queued = await queuedCount();
    const calls = paused.emulator.calls.length;
    const before = Date.now();
    const outcome = await paused.container.service.relay(event, BODY);
    const after = Date.now();
    expect(outcome).toEqual<RelayOutcome>({
      eventId: event.id,
      status: "queued",
      duplicate: false,
      svixAppUid: null,
      svixMessageId: null,
      nextAttemptAt: outcome.nextAttemptAt,
      lastError: null,
    });
    // Not before the wait Svix asked for ends (120 s from the 429, less the time since).
    expect(outcome.nextAttemptAt!.getTime()).toBeGreaterThan(before + 100_000);
    expect(outcome.nextAttemptAt!.getTime()).toBeLessThanOrEqual(after + 120_000);
    expect(paused.emulator.calls.length).toBe(calls);
    expect(await queuedCount()).toBe(queued + 1);
    const stored = await paused.container.store.summary(event.id);
    expect(stored).toMatchObject({ status: "queued", failures: 0, attemptCount: 0 });
    expect(stored!.nextAttemptAt!.getTime()).toBe(outcome.nextAttemptAt!.getTime());
    const line = paused.logs.find((l) => l.eventId === event.id);
    expect(line).toMatchObject({
      message: "notification queued: Svix asked to wait",
      outcome: "queued",
      trigger: "ingress",
      transport: "body",
      svixCalls: 0,
      eventType: event.type,
      project: event.project,
    });
  });
});

describe("the smaller print", () => {
  it("answers a settled duplicate at once, however long the caller would wait", async () => {
    const event = makeEvent();
    await h.container.service.relay(event, BODY);
    // A wait only applies to a delivery in flight: this must not take the two minutes allowed.
    expect(await h.container.service.relay(event, BODY, { waitMs: 120_000 })).toMatchObject({
      status: "delivered",
      duplicate: true,
    });
  });

  it("claims a new event for CLAIM_TTL_MS from now while it is being delivered", async () => {
    h.emulator.faults.add({ kind: "latency", minMs: 1500, maxMs: 1500, operation: "message.create", times: 1 });
    const event = makeEvent();
    const before = Date.now();
    const delivering = h.container.service.relay(event, BODY);
    const claimed = await waitForValue(async () => (await row(event.id)) ?? undefined, "the claimed row");
    expect(claimed.status).toBe("received");
    // CLAIM_TTL_MS is 30 s by default.
    expect(claimed.claimExpiresAt!.getTime()).toBeGreaterThanOrEqual(before + 30_000);
    expect(claimed.claimExpiresAt!.getTime()).toBeLessThanOrEqual(Date.now() + 30_000);
    expect((await delivering).status).toBe("delivered");
  });

  it("refuses another body under a known id even when the stored payload was purged: the digest still knows", async () => {
    const event = makeEvent();
    await h.container.service.relay(event, BODY);
    await h.container.db.prisma.notification.update({
      where: { eventId: event.id },
      data: { payload: null, payloadPurgedAt: new Date() } as never,
    });
    await expect(h.container.service.relay({ ...event, type: "user.updated" }, BODY)).rejects.toMatchObject({
      code: "event_id_conflict",
    });
    expect((await h.container.service.relay(event, BODY)).duplicate).toBe(true);
  });

  it("says what it knows in a refusal, and a plain word where the ledger has nothing", async () => {
    const delivered = makeEvent();
    await h.container.service.relay(delivered, BODY);
    await h.container.db.prisma.notification.update({
      where: { eventId: delivered.id },
      data: { svixMessageId: null },
    });
    await expect(h.container.service.replay(delivered.id)).rejects.toMatchObject({
      message: `Event ${delivered.id} is already delivered (Svix message unknown); resend it from Svix`,
    });

    h.emulator.faults.add({ kind: "status", status: 400, operation: "message.create", times: 1 });
    const erased = makeEvent();
    await h.container.service.relay(erased, BODY);
    await h.container.db.prisma.notification.update({
      where: { eventId: erased.id },
      data: { payload: null, payloadPurgedAt: null } as never,
    });
    await expect(h.container.service.replay(erased.id)).rejects.toMatchObject({
      message: expect.stringContaining("was erased on an earlier date (personal-data retention)"),
    });

    const inFlight = await insertClaimed(h.container.store, {
      claimToken: "elsewhere",
      claimExpiresAt: new Date(Date.now() + 30_000),
    });
    await expect(h.container.service.replay(inFlight.id)).rejects.toMatchObject({
      message: `Event ${inFlight.id} is being delivered right now; try again shortly`,
    });

    // A duplicate of a failure whose message the ledger lost: the code, and an empty message.
    h.emulator.faults.add({ kind: "status", status: 400, operation: "message.create", times: 1 });
    const refused = makeEvent();
    await h.container.service.relay(refused, BODY);
    await h.container.db.prisma.notification.update({ where: { eventId: refused.id }, data: { lastError: null } });
    expect((await h.container.service.relay(refused, BODY)).lastError).toEqual({ code: "svix_rejected", message: "" });
  });

  it("counts and logs a message Svix already had (the ledger lost it) as a duplicate, not a second delivery", async () => {
    const event = makeEvent();
    const first = await h.container.service.relay(event, BODY);
    await h.container.db.prisma.deliveryAttempt.deleteMany({ where: { eventId: event.id } });
    await h.container.db.prisma.notification.delete({ where: { eventId: event.id } });
    // Long after: Svix no longer remembers the idempotency key, only the event id (its 409).
    h.emulator.state.idempotency.clear();
    const [dup, delivered] = [await outcomes("duplicate"), await outcomes("delivered")];
    const again = await h.container.service.relay(event, BODY);
    // Svix's 409 names no message: the ledger records the delivery without its id.
    expect(first.svixMessageId).not.toBeNull();
    expect(again).toMatchObject({ status: "delivered", duplicate: true, svixMessageId: null });
    expect(await outcomes("duplicate")).toBe(dup + 1);
    expect(await outcomes("delivered")).toBe(delivered);
    const line = logOf(event.id).at(-1)!;
    expect(line).toMatchObject({ outcome: "duplicate", svixCalls: 1 });
    expect(line.durationMs).toBeGreaterThanOrEqual(0);
    expect(line.durationMs).toBeLessThan(60_000);
    expect(h.emulator.state.allMessages().filter((m) => m.eventId === event.id)).toHaveLength(1);
  });
});

describe("a delivery shed without a Svix call (every place for a call taken)", () => {
  let busy: Harness;
  beforeAll(async () => {
    busy = await startHarness({
      SVIX_MAX_RETRIES: "0",
      CIRCUIT_FAILURE_THRESHOLD: "1000",
      SVIX_MAX_IN_FLIGHT: "1",
      EVENT_TYPE_CATALOG: "true",
    });
  });
  afterAll(() => busy.close());

  it("is not the event's failure: queued again with no backoff, or failed past the horizon, its failure count unchanged, no latency observed", async () => {
    busy.emulator.faults.add({ kind: "status", status: 503, operation: "message.create", times: 2 });
    const young = makeEvent();
    const old = makeEvent();
    await busy.container.service.relay(young, BODY);
    await busy.container.service.relay(old, BODY);
    await busy.container.db.prisma.notification.update({
      where: { eventId: old.id },
      data: { createdAt: new Date(Date.now() - 73 * 3_600_000) },
    });
    const latency = async () =>
      (await busy.container.metrics.svixLatency.get()).values
        .filter((v) => v.metricName?.endsWith("_count"))
        .reduce((s, v) => s + v.value, 0);
    // One call in flight takes the only place.
    busy.emulator.faults.add({ kind: "latency", minMs: 2000, maxMs: 2000, operation: "message.create", times: 1 });
    const occupying = busy.container.service.relay(makeEvent(), BODY);
    await waitFor(() => busy.container.svix.saturated(), 10_000, "the call in flight");
    const observed = await latency();
    const before = Date.now();
    const shed = await busy.container.service.replay(young.id);
    expect(shed).toMatchObject({ status: "queued", lastError: { code: "overloaded" } });
    // No backoff for a shed delivery: only the 1 s the gateway asks for.
    expect(shed.nextAttemptAt!.getTime() - before).toBeLessThan(5_000);
    expect(await busy.container.store.summary(young.id)).toMatchObject({ status: "queued", failures: 1 });
    const gaveUp = await busy.container.service.replay(old.id);
    expect(gaveUp).toMatchObject({ status: "failed", lastError: { code: "overloaded" } });
    expect(await busy.container.store.summary(old.id)).toMatchObject({ status: "failed", failures: 1 });
    expect(await latency()).toBe(observed);
    expect((await occupying).status).toBe("delivered");
  });

  it("tells the event-type catalog only about delivered events", async () => {
    // The catalog's own Svix calls share the one place for a call: let them finish first.
    const idle = async () => {
      await busy.container.eventTypes!.settle();
      await waitFor(
        () => busy.container.svix.waitMs() === 0 && !busy.container.svix.saturated(),
        10_000,
        "the gateway free again",
      );
    };
    await idle();
    busy.emulator.faults.add({ kind: "status", status: 400, operation: "message.create", times: 1 });
    // Two declared types: the catalog writes nothing else.
    expect((await busy.container.service.relay(makeEvent({ type: "user.deleted" }), BODY)).status).toBe("rejected");
    await idle();
    expect((await busy.container.service.relay(makeEvent({ type: "user.updated" }), BODY)).status).toBe("delivered");
    await busy.container.eventTypes!.settle();
    expect([...busy.emulator.state.eventTypes.keys()]).toContain("user.updated");
    expect([...busy.emulator.state.eventTypes.keys()]).not.toContain("user.deleted");
  });
});
