import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NotificationStore } from "../../src/db/notificationStore.ts";
import { QuarantineStore } from "../../src/db/quarantineStore.ts";
import type { PlatformEvent } from "../../src/core/event.ts";
import { eventDigest } from "../../src/core/eventDigest.ts";
import type { Claim, Completion, NewNotification } from "../../src/core/ports/ledger.ts";
import type { Transport } from "../../src/core/transport.ts";
import { makeEvent } from "../helpers/events.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/testDatabase.ts";

// The ledger's contract. CI runs it twice: on PGlite, and on PostgreSQL (DATABASE_URL set).
let t: TestDatabase;
let store: NotificationStore;
beforeAll(async () => {
  t = await createTestDatabase();
  store = new NotificationStore({ prisma: t.db.prisma, sql: t.db.sql });
});
afterAll(() => t.drop());

const inMs = (ms: number) => new Date(Date.now() + ms);
const claimed = (
  event: PlatformEvent,
  token: string,
  expiresAt: Date,
  transport: Transport = { kind: "body" },
): NewNotification => ({
  event,
  transport,
  payloadDigest: eventDigest(event),
  status: "received",
  claimToken: token,
  claimExpiresAt: expiresAt,
});
const queued = (event: PlatformEvent, nextAttemptAt: Date): NewNotification => ({
  event,
  transport: { kind: "body" },
  payloadDigest: eventDigest(event),
  status: "queued",
  nextAttemptAt,
});
const claim = (ms = 30_000): Claim => ({ token: randomUUID(), expiresAt: inMs(ms) });
const delivered = (messageId = "msg_1"): Completion => ({
  status: "delivered",
  countsAsFailure: false,
  svixAppUid: "acme-mobile",
  svixMessageId: messageId,
  attempts: [
    {
      trigger: "ingress",
      operation: "message.create",
      startedAt: new Date(),
      durationMs: 12,
      outcome: "delivered",
      httpStatus: 202,
      svixMessageId: messageId,
    },
  ],
});
const failedOnce = (nextAttemptAt: Date): Completion => ({
  status: "queued",
  countsAsFailure: true,
  errorCode: "svix_unavailable",
  error: "Svix answered 503",
  nextAttemptAt,
  attempts: [
    {
      trigger: "ingress",
      operation: "message.create",
      startedAt: new Date(),
      durationMs: 5,
      outcome: "retryable",
      httpStatus: 503,
      errorCode: "svix_unavailable",
      error: "Svix answered 503",
    },
  ],
});

describe(`NotificationStore on ${process.env.DATABASE_URL ? "PostgreSQL" : "PGlite"}`, () => {
  it("inserts an event once: the unique event id decides, under concurrency too; the others read the winner", async () => {
    const event = makeEvent();
    const results = await Promise.all(
      Array.from({ length: 10 }, () => store.insert(claimed(event, randomUUID(), inMs(30_000)))),
    );
    expect(results.filter((r) => r === null)).toHaveLength(1);
    for (const existing of results.filter((r) => r !== null)) {
      expect(existing).toMatchObject({ eventId: event.id, status: "received", payloadDigest: eventDigest(event) });
    }
    expect(await store.get(event.id)).toMatchObject({
      eventId: event.id,
      project: event.project,
      type: event.type,
      status: "received",
      attemptCount: 0,
      payload: event,
    });
  });

  it("stores the transport metadata", async () => {
    const event = makeEvent();
    const transport: Transport = {
      kind: "push_wrapped",
      pubsubMessageId: "42",
      subscription: "projects/p/subscriptions/s",
      deliveryAttempt: 2,
      publishTime: "2026-11-27T10:00:01.000Z",
    };
    await store.insert(claimed(event, "c", inMs(1000), transport));
    expect((await store.summary(event.id))?.transport).toEqual(transport);
  });

  it("completes only for the claim's owner, recording each attempt and the failure count", async () => {
    const event = makeEvent();
    await store.insert(claimed(event, "owner", inMs(30_000)));
    await store.complete(event.id, "someone-else", failedOnce(inMs(1000)));
    expect((await store.summary(event.id))?.status).toBe("received");
    await store.complete(event.id, "owner", failedOnce(inMs(-1)));
    expect(await store.summary(event.id)).toMatchObject({
      status: "queued",
      failures: 1,
      attemptCount: 1,
      lastErrorCode: "svix_unavailable",
      claimExpiresAt: null,
    });
    const [row] = await store.claimDue(new Date(), 1000, { token: "owner-2", expiresAt: inMs(30_000) });
    expect(row?.eventId).toBe(event.id);
    await store.complete(event.id, "owner-2", delivered("msg_a"));
    const done = await store.summary(event.id);
    expect(done).toMatchObject({
      status: "delivered",
      svixMessageId: "msg_a",
      svixAppUid: "acme-mobile",
      attemptCount: 2,
      failures: 1,
      claimExpiresAt: null,
    });
    expect(done?.deliveredAt).toBeInstanceOf(Date);
    // Every Svix call is audited, even one whose claim had been lost: it was made.
    expect((await store.attemptsOf(event.id)).map((a) => a.outcome)).toEqual(["retryable", "retryable", "delivered"]);
  });

  it("lets a delivery whose claim was taken over still record Svix's answer", async () => {
    const event = makeEvent();
    await store.insert(claimed(event, "first", inMs(-1)));
    const taken = await store.claimDue(new Date(), 1000, { token: "second", expiresAt: inMs(30_000) });
    expect(taken.map((r) => r.eventId)).toContain(event.id);
    await store.complete(event.id, "first", delivered("msg_b"));
    expect((await store.summary(event.id))?.status).toBe("delivered");
  });

  it("claims due notifications once across concurrent claimers, oldest first, and never a live claim or a settled row", async () => {
    const project = `proj-${randomUUID()}`;
    const due = [makeEvent({ project }), makeEvent({ project }), makeEvent({ project })];
    for (const e of due) await store.insert(queued(e, inMs(-1000)));
    // Arrival order differs from insert order.
    const base = Date.parse("2026-11-01T00:00:00Z");
    for (const [i, offset] of [2000, 0, 1000].entries()) {
      await t.db.prisma.notification.update({
        where: { eventId: due[i]!.id },
        data: { createdAt: new Date(base + offset) },
      });
    }
    const live = makeEvent({ project });
    await store.insert(claimed(live, "c1", inMs(30_000)));
    const later = makeEvent({ project });
    await store.insert(queued(later, inMs(60_000)));
    const settled = makeEvent({ project });
    await store.insert(claimed(settled, "c3", inMs(-1)));
    await store.complete(settled.id, "c3", delivered());

    const claims = await Promise.all(Array.from({ length: 4 }, () => store.claimDue(new Date(), 1000, claim())));
    const mine = claims.map((rows) => rows.filter((r) => r.project === project).map((r) => r.eventId));
    const all = mine.flat();
    expect(all.sort()).toEqual(due.map((e) => e.id).sort());
    // Within one claimer's batch: oldest first.
    const single = mine.find((ids) => ids.length === 3);
    if (single) expect(single).toEqual([due[1]!.id, due[2]!.id, due[0]!.id]);
    expect((await store.summary(due[0]!.id))?.status).toBe("received");
    expect((await store.summary(live.id))?.claimExpiresAt?.getTime()).toBeGreaterThan(Date.now());
  });

  it("returns claimed rows in arrival order within a batch", async () => {
    const project = `order-${randomUUID()}`;
    const events = [makeEvent({ project }), makeEvent({ project }), makeEvent({ project })];
    const base = Date.parse("2020-01-01T00:00:00Z");
    for (const [i, e] of events.entries()) {
      await store.insert(queued(e, inMs(-1000)));
      await t.db.prisma.notification.update({
        where: { eventId: e.id },
        data: { createdAt: new Date(base - i * 1000) },
      });
    }
    const rows = (await store.claimDue(new Date(), 1000, claim())).filter((r) => r.project === project);
    expect(rows.map((r) => r.eventId)).toEqual([events[2]!.id, events[1]!.id, events[0]!.id]);
  });

  it("takes a not-yet-due notification once Svix came back after it was last tried", async () => {
    const event = makeEvent();
    await store.insert(queued(event, inMs(60_000)));
    expect((await store.claimDue(new Date(), 1000, claim())).map((r) => r.eventId)).not.toContain(event.id);
    const lastTried = (await store.summary(event.id))!.updatedAt;
    expect(
      (await store.claimDue(new Date(), 1000, claim(), new Date(lastTried.getTime() - 1))).map((r) => r.eventId),
    ).not.toContain(event.id);
    expect(
      (await store.claimDue(new Date(), 1000, claim(), new Date(lastTried.getTime() + 1))).map((r) => r.eventId),
    ).toContain(event.id);
  });

  it("releases only the rows named, not the rest of the same claim", async () => {
    const project = `release-${randomUUID()}`;
    const [kept, given] = [makeEvent({ project }), makeEvent({ project })];
    for (const e of [kept, given]) await store.insert(queued(e, inMs(-1)));
    const c = claim();
    expect((await store.claimDue(new Date(), 1000, c)).filter((r) => r.project === project)).toHaveLength(2);
    await store.release([given.id], c.token, inMs(5000));
    expect((await store.summary(given.id))?.status).toBe("queued");
    expect(await store.summary(kept.id)).toMatchObject({ status: "received", claimExpiresAt: c.expiresAt });
  });

  it("gives released rows back to the queue, only for their claim", async () => {
    const event = makeEvent();
    await store.insert(queued(event, inMs(-1)));
    const c = claim();
    expect((await store.claimDue(new Date(), 1000, c)).map((r) => r.eventId)).toContain(event.id);
    await store.release([event.id], "not-mine", inMs(5000));
    expect((await store.summary(event.id))?.status).toBe("received");
    await store.release([event.id], c.token, inMs(5000));
    const row = await store.summary(event.id);
    expect(row).toMatchObject({ status: "queued", claimExpiresAt: null, failures: 0, attemptCount: 0 });
    expect(row?.nextAttemptAt?.getTime()).toBeGreaterThan(Date.now());
  });

  it("claims for an operator's replay anything not delivered and not in flight", async () => {
    const rejected = makeEvent();
    await store.insert(claimed(rejected, "c", inMs(30_000)));
    await store.complete(rejected.id, "c", {
      status: "rejected",
      countsAsFailure: false,
      attempts: [],
      errorCode: "svix_rejected",
      error: "no",
    });
    expect(await store.claimForReplay(rejected.id, claim(), new Date())).toBe(true);
    const inFlight = makeEvent();
    await store.insert(claimed(inFlight, "c", inMs(30_000)));
    expect(await store.claimForReplay(inFlight.id, claim(), new Date())).toBe(false);
    const done = makeEvent();
    await store.insert(claimed(done, "c", inMs(30_000)));
    await store.complete(done.id, "c", delivered());
    expect(await store.claimForReplay(done.id, claim(), new Date())).toBe(false);
  });

  it("lists by status and project, newest first by arrival, limited", async () => {
    const project = `proj-${randomUUID()}`;
    const events = [makeEvent({ project }), makeEvent({ project }), makeEvent({ project })];
    const base = Date.parse("2026-11-01T00:00:00Z");
    const arrivals = [base + 2000, base, base + 1000];
    for (const [i, e] of events.entries()) {
      await store.insert(claimed(e, "c", inMs(30_000)));
      await t.db.prisma.notification.update({ where: { eventId: e.id }, data: { createdAt: new Date(arrivals[i]!) } });
      if (i < 2) await store.complete(e.id, "c", delivered(`msg_${i}`));
    }
    const listed = await store.list({ project, limit: 10 });
    expect(listed.map((n) => n.eventId)).toEqual([events[0]!.id, events[2]!.id, events[1]!.id]);
    expect(listed[0]!.createdAt.getTime()).toBe(base + 2000);
    expect(await store.list({ project, status: "delivered", limit: 10 })).toHaveLength(2);
    expect(await store.list({ project, limit: 1 })).toHaveLength(1);
  });

  it("lists by type and arrival window (since inclusive, until exclusive), and pages after a cursor even within one instant", async () => {
    const project = `window-${randomUUID()}`;
    const at = Date.parse("2026-10-01T00:00:00Z");
    const rows: Array<[PlatformEvent, number]> = [
      [makeEvent({ project, type: "user.created" }), at - 1],
      [makeEvent({ project, type: "user.created" }), at],
      [makeEvent({ project, type: "payment.succeeded" }), at + 500],
      [makeEvent({ project, type: "user.created" }), at + 1000],
      [makeEvent({ project, type: "user.created" }), at + 1000],
    ];
    for (const [e, createdAt] of rows) {
      await store.insert(claimed(e, "c", inMs(30_000)));
      await t.db.prisma.notification.update({ where: { eventId: e.id }, data: { createdAt: new Date(createdAt) } });
    }
    const ids = (list: Array<{ eventId: string }>) => list.map((n) => n.eventId);
    const [before, atSince, payment, lastA, lastB] = rows.map(([e]) => e.id) as [
      string,
      string,
      string,
      string,
      string,
    ];
    const [newer, older] = lastA > lastB ? [lastA, lastB] : [lastB, lastA];
    expect(ids(await store.list({ project, limit: 10 }))).toEqual([newer, older, payment, atSince, before]);
    expect(ids(await store.list({ project, type: "payment.succeeded", limit: 10 }))).toEqual([payment]);
    expect(ids(await store.list({ project, since: new Date(at), until: new Date(at + 1000), limit: 10 }))).toEqual([
      payment,
      atSince,
    ]);
    // The cursor: older than the last one seen, or as old with a smaller id.
    expect(
      ids(await store.list({ project, after: { createdAt: new Date(at + 1000), eventId: newer }, limit: 10 })),
    ).toEqual([older, payment, atSince, before]);
    expect(
      ids(await store.list({ project, after: { createdAt: new Date(at + 1000), eventId: older }, limit: 2 })),
    ).toEqual([payment, atSince]);
  });

  it("claims for replay a queued, failed or rejected notification, and a received one only once its claim expired", async () => {
    const inStatus = async (status: "queued" | "failed" | "rejected" | "received", claimExpiresAt: Date | null) => {
      const event = makeEvent();
      await store.insert(claimed(event, "c", inMs(30_000)));
      await t.db.prisma.notification.update({ where: { eventId: event.id }, data: { status, claimExpiresAt } });
      return event.id;
    };
    const now = new Date();
    for (const status of ["queued", "failed", "rejected"] as const) {
      const id = await inStatus(status, null);
      const c = claim();
      expect(await store.claimForReplay(id, c, now), status).toBe(true);
      expect(await store.summary(id)).toMatchObject({ status: "received", claimExpiresAt: c.expiresAt });
    }
    expect(await store.claimForReplay(await inStatus("received", new Date(now.getTime())), claim(), now)).toBe(true);
    expect(await store.claimForReplay(await inStatus("received", null), claim(), now)).toBe(true);
    expect(await store.claimForReplay(await inStatus("received", new Date(now.getTime() + 1)), claim(), now)).toBe(
      false,
    );
    expect(await store.claimForReplay("evt_nowhere", claim(), now)).toBe(false);
  });

  it("erases a payload at once when nothing holds it, fails a waiting one for good, and refuses while a delivery holds it", async () => {
    const now = new Date();
    const inStatus = async (
      status: "queued" | "failed" | "rejected" | "received" | "delivered",
      claimExpiresAt: Date | null,
    ) => {
      const event = makeEvent();
      await store.insert(claimed(event, "c", inMs(30_000)));
      await t.db.prisma.notification.update({
        where: { eventId: event.id },
        data: { status, claimExpiresAt, lastErrorCode: "svix_unavailable" },
      });
      return event.id;
    };
    for (const status of ["delivered", "rejected", "failed"] as const) {
      const id = await inStatus(status, null);
      expect(await store.erasePayload(id, now), status).toBe("erased");
      // Settled: only the payload goes; the outcome stays as it was.
      expect(await store.get(id)).toMatchObject({
        status,
        payload: null,
        payloadPurgedAt: now,
        lastErrorCode: "svix_unavailable",
      });
    }
    const waiting = [await inStatus("queued", null), await inStatus("received", new Date(now.getTime()))];
    for (const id of waiting) {
      expect(await store.erasePayload(id, now)).toBe("erased");
      expect(await store.get(id)).toMatchObject({
        status: "failed",
        payload: null,
        payloadPurgedAt: now,
        claimExpiresAt: null,
        nextAttemptAt: null,
        lastErrorCode: "payload_erased",
        lastError: "The payload was erased by an operator before delivery",
      });
    }
    const held = await inStatus("received", new Date(now.getTime() + 1));
    expect(await store.erasePayload(held, now)).toBe("in_flight");
    expect(await store.get(held)).toMatchObject({ status: "received", payloadPurgedAt: null });
    expect((await store.get(held))?.payload).not.toBeNull();
    expect(await store.erasePayload("evt_nowhere", now)).toBe("not_found");
  });

  it("counts by project and status since a time: the busiest projects first, ties by name, 50 projects unless told", async () => {
    // A database of its own: the other tests' rows would be counted too.
    const own = await createTestDatabase();
    try {
      const counts = new NotificationStore({ prisma: own.db.prisma, sql: own.db.sql });
      const since = new Date(Date.now() - 60_000);
      const add = async (project: string, status: "delivered" | "failed", createdAt = new Date()) => {
        const event = makeEvent({ project });
        await counts.insert(claimed(event, "c", inMs(30_000)));
        await own.db.prisma.notification.update({ where: { eventId: event.id }, data: { status, createdAt } });
      };
      for (const status of ["failed", "delivered", "delivered"] as const) await add("c-busy", status);
      await add("b-tie", "delivered");
      await add("b-tie", "delivered", since);
      await add("a-tie", "failed");
      await add("a-tie", "failed");
      await add("a-old", "delivered", new Date(since.getTime() - 1));
      const sorted = (rows: Array<{ project: string; status: string; count: number }>) =>
        [...rows].sort((a, b) => a.project.localeCompare(b.project) || a.status.localeCompare(b.status));
      // c-busy (3) first, then a tie of 2 between a-tie and b-tie that a-tie wins by name.
      expect(sorted(await counts.countsByProject(since, { limit: 2 }))).toEqual([
        { project: "a-tie", status: "failed", count: 2 },
        { project: "c-busy", status: "delivered", count: 2 },
        { project: "c-busy", status: "failed", count: 1 },
      ]);
      // A row at exactly `since` counts; one a millisecond before does not.
      expect(await counts.countsByProject(since, { project: "b-tie" })).toEqual([
        { project: "b-tie", status: "delivered", count: 2 },
      ]);
      expect(await counts.countsByProject(since, { project: "a-old" })).toEqual([]);
      for (let i = 0; i < 50; i += 1) await add(`z-${String(i).padStart(2, "0")}`, "delivered");
      const projects = new Set((await counts.countsByProject(since)).map((r) => r.project));
      expect(projects.size).toBe(50);
      // The three busiest, then 47 of the 50 one-notification projects, by name.
      expect(projects).toContain("c-busy");
      expect(projects).toContain("z-46");
      expect(projects).not.toContain("z-47");
    } finally {
      await own.drop();
    }
  });

  it("turns a lost database into a retryable database_unavailable error naming the statement", async () => {
    const broken = await createTestDatabase();
    const brokenStore = new NotificationStore({ prisma: broken.db.prisma, sql: broken.db.sql });
    await broken.drop();
    const event = makeEvent();
    const calls: Array<[string, () => Promise<unknown>]> = [
      ["insert", () => brokenStore.insert(claimed(event, "c", inMs(1000)))],
      ["summary", () => brokenStore.summary(event.id)],
      ["get", () => brokenStore.get(event.id)],
      ["complete", () => brokenStore.complete(event.id, "c", delivered())],
      ["claim due", () => brokenStore.claimDue(new Date(), 1, claim())],
      ["release", () => brokenStore.release([event.id], "c", new Date())],
      ["claim for replay", () => brokenStore.claimForReplay(event.id, claim(), new Date())],
      ["attempts", () => brokenStore.attemptsOf(event.id)],
      ["list", () => brokenStore.list({ limit: 1 })],
      ["erase payload", () => brokenStore.erasePayload(event.id, new Date())],
      ["counts by project", () => brokenStore.countsByProject(new Date())],
      ["ping", () => brokenStore.ping()],
    ];
    for (const [statement, call] of calls) {
      await expect(call(), statement).rejects.toMatchObject({
        code: "database_unavailable",
        retryable: true,
        message: `The ledger is unavailable (${statement})`,
      });
    }
  });
});

describe(`QuarantineStore on ${process.env.DATABASE_URL ? "PostgreSQL" : "PGlite"}`, () => {
  it("keeps a message once per subscription and message id, with at most 64 KiB of its body, newest first", async () => {
    const quarantine = new QuarantineStore({ prisma: t.db.prisma });
    const transport: Transport = {
      kind: "push_wrapped",
      pubsubMessageId: "m-1",
      subscription: "projects/p/subscriptions/s",
      publishTime: "2026-11-27T10:00:01.000Z",
    };
    const body = Buffer.alloc(100 * 1024, 0x61);
    const entry = {
      reason: "invalid_event" as const,
      message: "bad",
      details: [{ path: "/time", message: "must match format" }],
      transport,
      eventId: "evt_q",
      body,
    };
    const first = await quarantine.add(entry);
    const again = await quarantine.add(entry);
    expect(again).toEqual({ id: first.id, duplicate: true });
    const other = await quarantine.add({
      ...entry,
      transport: { kind: "push_unwrapped" },
      body: Buffer.from([0xff, 0x00]),
    });
    const listed = await quarantine.list({ limit: 10 });
    expect(listed.map((m) => m.id).slice(0, 2)).toEqual([other.id, first.id]);
    const kept = listed.find((m) => m.id === first.id)!;
    expect(kept).toMatchObject({
      reason: "invalid_event",
      eventId: "evt_q",
      bodyBytes: 100 * 1024,
      transport,
      details: entry.details,
    });
    expect(kept.body).toHaveLength(64 * 1024);
    expect(listed.find((m) => m.id === other.id)?.body).toEqual(Buffer.from([0xff, 0x00]));
  });
});
