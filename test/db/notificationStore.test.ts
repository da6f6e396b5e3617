import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NotificationStore } from "../../src/db/notificationStore.ts";
import type { Completion } from "../../src/notifications/ports.ts";
import { makeEvent } from "../helpers/events.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/testDatabase.ts";

// The ledger's contract. CI runs it twice: on PGlite, and on PostgreSQL (DATABASE_URL set).
let t: TestDatabase;
let store: NotificationStore;
beforeAll(async () => {
  t = await createTestDatabase();
  store = new NotificationStore({ prisma: t.db.prisma });
});
afterAll(() => t.drop());

const inMs = (ms: number) => new Date(Date.now() + ms);
const delivered = (messageId = "msg_1"): Completion => ({
  status: "delivered",
  svixAppId: "app_1",
  svixMessageId: messageId,
  attempts: [{ trigger: "ingress", operation: "message.create", startedAt: new Date(), durationMs: 12, outcome: "delivered", httpStatus: 202, svixMessageId: messageId }],
});
const failed = (nextAttemptAt: Date): Completion => ({
  status: "failed",
  errorCode: "svix_unavailable",
  error: "Svix answered 503",
  nextAttemptAt,
  attempts: [{ trigger: "ingress", operation: "message.create", startedAt: new Date(), durationMs: 5, outcome: "retryable", httpStatus: 503, errorCode: "svix_unavailable", error: "Svix answered 503" }],
});

describe(`NotificationStore on ${process.env.DATABASE_URL ? "PostgreSQL" : "PGlite"}`, () => {
  it("inserts an event once: the unique event id decides, under concurrency too", async () => {
    const event = makeEvent();
    const results = await Promise.all(Array.from({ length: 10 }, () => store.insertClaimed(event, { kind: "body" }, randomUUID(), inMs(30_000))));
    expect(results.filter(Boolean)).toHaveLength(1);
    const row = await store.get(event.id);
    expect(row).toMatchObject({ eventId: event.id, project: event.project, type: event.type, status: "received", attempts: 0, payload: event });
  });

  it("stores the transport metadata", async () => {
    const event = makeEvent();
    await store.insertClaimed(event, { kind: "push_wrapped", pubsubMessageId: "42", subscription: "projects/p/subscriptions/s", deliveryAttempt: 2 }, "c", inMs(1000));
    expect((await store.get(event.id))?.transport).toEqual({ kind: "push_wrapped", pubsubMessageId: "42", subscription: "projects/p/subscriptions/s", deliveryAttempt: 2 });
  });

  it("completes only for the claim's owner, recording each attempt", async () => {
    const event = makeEvent();
    await store.insertClaimed(event, { kind: "body" }, "owner", inMs(30_000));
    await store.complete(event.id, "someone-else", failed(inMs(1000)));
    expect((await store.get(event.id))?.status).toBe("received");
    await store.complete(event.id, "owner", delivered("msg_a"));
    const row = await store.get(event.id);
    expect(row).toMatchObject({ status: "delivered", svixMessageId: "msg_a", svixAppId: "app_1", attempts: 1, claimExpiresAt: null });
    expect(row?.deliveredAt).toBeInstanceOf(Date);
    const attempts = await store.attemptsOf(event.id);
    expect(attempts.map((a) => a.outcome)).toEqual(["retryable", "delivered"]);
  });

  it("lets a delivery whose claim was taken over still record Svix's answer", async () => {
    const event = makeEvent();
    await store.insertClaimed(event, { kind: "body" }, "first", inMs(-1));
    expect(await store.takeOver(event.id, "second", inMs(30_000), new Date())).toBe(true);
    await store.complete(event.id, "first", delivered("msg_b"));
    expect((await store.get(event.id))?.status).toBe("delivered");
  });

  it("takes over failed rows and expired claims, once, but never a live claim or a settled row", async () => {
    const live = makeEvent();
    await store.insertClaimed(live, { kind: "body" }, "c1", inMs(30_000));
    expect(await store.takeOver(live.id, "x", inMs(30_000), new Date())).toBe(false);

    const stale = makeEvent();
    await store.insertClaimed(stale, { kind: "body" }, "c2", inMs(-1000));
    const winners = await Promise.all(Array.from({ length: 5 }, (_, i) => store.takeOver(stale.id, `t${i}`, inMs(30_000), new Date())));
    expect(winners.filter(Boolean)).toHaveLength(1);

    const done = makeEvent();
    await store.insertClaimed(done, { kind: "body" }, "c3", inMs(30_000));
    await store.complete(done.id, "c3", delivered());
    expect(await store.takeOver(done.id, "x", inMs(30_000), new Date())).toBe(false);
  });

  it("respects nextAttemptAt only when asked (redrive), and lists what is due", async () => {
    const later = makeEvent();
    await store.insertClaimed(later, { kind: "body" }, "c", inMs(30_000));
    await store.complete(later.id, "c", failed(inMs(60_000)));
    expect(await store.takeOver(later.id, "r", inMs(30_000), new Date(), { dueOnly: true })).toBe(false);
    expect((await store.due(new Date(), 1000)).map((r) => r.eventId)).not.toContain(later.id);
    expect((await store.due(inMs(61_000), 1000)).map((r) => r.eventId)).toContain(later.id);
    expect(await store.takeOver(later.id, "i", inMs(30_000), new Date())).toBe(true);
  });

  it("lists by status and project, newest first, limited", async () => {
    const project = `proj-${randomUUID()}`;
    for (let i = 0; i < 3; i += 1) {
      const e = makeEvent({ project });
      await store.insertClaimed(e, { kind: "body" }, "c", inMs(30_000));
      if (i < 2) await store.complete(e.id, "c", delivered(`msg_${i}`));
    }
    expect(await store.list({ project, limit: 10 })).toHaveLength(3);
    expect(await store.list({ project, status: "delivered", limit: 10 })).toHaveLength(2);
    expect(await store.list({ project, limit: 1 })).toHaveLength(1);
  });

  it("lists newest first by arrival", async () => {
    const project = `proj-${randomUUID()}`;
    const events = [makeEvent({ project }), makeEvent({ project }), makeEvent({ project })];
    const base = Date.parse("2026-11-01T00:00:00Z");
    // Arrival times set apart explicitly, and in an order that differs from the insert order.
    const arrivals = [base + 2000, base, base + 1000];
    for (const [i, e] of events.entries()) {
      await store.insertClaimed(e, { kind: "body" }, "c", inMs(30_000));
      await t.db.prisma.notification.update({ where: { eventId: e.id }, data: { createdAt: new Date(arrivals[i]!) } });
    }
    const listed = await store.list({ project, limit: 10 });
    expect(listed.map((n) => n.eventId)).toEqual([events[0]!.id, events[2]!.id, events[1]!.id]);
    expect(listed[0]!.createdAt.getTime()).toBe(base + 2000);
  });

  it("remembers a project's Svix application once", async () => {
    await store.save("proj-x", { id: "app_1", uid: "proj-x" });
    await store.save("proj-x", { id: "app_2", uid: "proj-x" });
    expect(await store.find("proj-x")).toEqual({ id: "app_1", uid: "proj-x" });
    expect(await store.find("nobody")).toBeNull();
  });

  it("turns a lost database into a retryable database_unavailable error", async () => {
    const broken = await createTestDatabase();
    const brokenStore = new NotificationStore({ prisma: broken.db.prisma });
    await broken.drop();
    await expect(brokenStore.ping()).rejects.toMatchObject({ code: "database_unavailable", retryable: true });
  });
});
