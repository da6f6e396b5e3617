// Retention of everything the ledger keeps, on the relay as the composition root builds it (PGlite,
// or PostgreSQL with DATABASE_URL), with a fake clock: personal data cleared after
// PAYLOAD_RETENTION_DAYS, audit rows deleted after AUDIT_RETENTION_DAYS, each at its exact edge.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { makeEvent, wrapped } from "../helpers/events.ts";
import { startHarness, type Harness } from "../helpers/relayHarness.ts";
import { usingPostgres } from "../helpers/testDatabase.ts";
import { insertClaimed } from "../helpers/claimedRow.ts";

const DAY = 86_400_000;
const BATCH = 2;
// Frozen while a purge runs, so its edges are exact: rows are placed relative to them.
let nowMs = Date.now();
const clearBefore = () => new Date(nowMs - 30 * DAY);
const deleteBefore = () => new Date(nowMs - 90 * DAY);
const justBefore = (edge: Date) => new Date(edge.getTime() - 1);

let h: Harness;
beforeAll(async () => {
  h = await startHarness(
    {
      PAYLOAD_RETENTION_DAYS: "30",
      AUDIT_RETENTION_DAYS: "90",
      PURGE_BATCH_SIZE: String(BATCH),
      SVIX_MAX_RETRIES: "0",
      CIRCUIT_FAILURE_THRESHOLD: "1000",
      SVIX_TIMEOUT_MS: "7000",
    },
    { clock: { now: () => nowMs } },
  );
});
afterAll(() => h.close());

const prisma = () => h.container.db.prisma;
beforeEach(async () => {
  nowMs = Date.now();
  await prisma().svixDeliveryEvent.deleteMany();
  await prisma().deliveryAttempt.deleteMany();
  await prisma().notification.deleteMany();
  await prisma().quarantinedMessage.deleteMany();
  h.emulator.faults.clear();
});

/** Moves a notification's arrival (and last change) to `at`, as if it had been there since. */
const arrivedAt = (eventId: string, at: Date) =>
  prisma().$executeRaw`UPDATE notifications SET created_at = ${at}, updated_at = ${at} WHERE event_id = ${eventId}`;

async function delivered(): Promise<string> {
  const event = makeEvent({ data: { object: "user", id: "usr_1", email: "someone@example.com" } });
  await h.http.post("/notifications").send(event).expect(200);
  return event.id;
}
async function rejected(): Promise<string> {
  const event = makeEvent({ type: "not a type!" });
  await h.http.post("/notifications").send(event).expect(422);
  return event.id;
}
async function queued(): Promise<string> {
  h.emulator.faults.add({ kind: "status", status: 503, operation: "message.create", times: 1 });
  const event = makeEvent();
  await h.http.post("/notifications").send(event).expect(202);
  return event.id;
}
async function failed(): Promise<string> {
  const id = await queued();
  await prisma().notification.update({ where: { eventId: id }, data: { status: "failed" } });
  return id;
}
async function received(): Promise<string> {
  const event = await insertClaimed(h.container.store, {
    claimToken: "in-flight",
    claimExpiresAt: new Date(nowMs + 60_000),
  });
  return event.id;
}
/** What Svix later reports about the notification's message (an operational webhook), matched to it. */
async function deliveryEvent(eventId: string | null, receivedAt: Date): Promise<string> {
  const svixId = `msg_op_${Math.random().toString(36).slice(2)}`;
  const row = eventId ? await prisma().notification.findUniqueOrThrow({ where: { eventId } }) : null;
  await h.container.deliveryEvents.record({
    svixId,
    type: eventId ? "message.attempt.exhausted" : "endpoint.disabled",
    data: {
      appUid: row?.svixAppUid ?? "acme-mobile",
      msgId: row?.svixMessageId ?? undefined,
      msgEventId: eventId ?? undefined,
      endpointId: "ep_1",
      lastAttempt: { timestamp: receivedAt.toISOString(), responseStatusCode: 500 },
    },
  });
  await prisma().$executeRaw`UPDATE svix_delivery_events SET received_at = ${receivedAt} WHERE svix_id = ${svixId}`;
  return svixId;
}
/** A pushed message that fails the schema: quarantined with its body, message and details; returns its id. */
async function quarantined(receivedAt: Date): Promise<bigint> {
  // A number that would not arrive unchanged, under a key that is personal data: the details name the key.
  const envelope = wrapped({});
  envelope.message.data = Buffer.from(`{"object":"event","someone@example.com":1e400}`).toString("base64");
  const res = await h.http.post("/notifications").send(envelope).expect(200);
  const id = BigInt(res.body.data.quarantineId);
  await prisma().$executeRaw`UPDATE quarantined_messages SET received_at = ${receivedAt} WHERE id = ${id}`;
  return id;
}

const notification = (eventId: string) => prisma().notification.findUnique({ where: { eventId } });
const attempts = (eventId: string) => prisma().deliveryAttempt.count({ where: { eventId } });
const deliveryEvents = (eventId: string) => prisma().svixDeliveryEvent.count({ where: { eventId } });
const quarantineRow = (id: bigint) => prisma().quarantinedMessage.findUnique({ where: { id } });
async function counter(name: string, kind: string): Promise<number> {
  const metric = h.container.metrics.registry.getSingleMetric(name);
  return (await metric!.get()).values.find((v) => v.labels.kind === kind)?.value ?? 0;
}

describe("AUDIT_RETENTION_DAYS", () => {
  it("deletes settled notifications older than it, with their attempts and delivery events; keeps those at the edge", async () => {
    const old = [await delivered(), await rejected(), await failed()];
    for (const id of old) await arrivedAt(id, justBefore(deleteBefore()));
    const edge = await delivered();
    await arrivedAt(edge, deleteBefore());
    // Svix reported on them later, some within the audit retention: they go with their notification.
    for (const id of [...old, edge]) await deliveryEvent(id, new Date(nowMs - 10 * DAY));
    for (const id of old) {
      expect(await attempts(id)).toBeGreaterThan(0);
      expect(await deliveryEvents(id)).toBe(1);
    }
    const attemptsBefore = await prisma().deliveryAttempt.count();
    const edgeAttempts = await attempts(edge);

    const result = await h.container.purge.purgeAll();

    expect(result).toMatchObject({ notifications: 3, deliveryEvents: 3, skipped: false });
    expect(result.attempts).toBe(attemptsBefore - edgeAttempts);
    for (const id of old) {
      expect(await notification(id)).toBeNull();
      expect(await attempts(id)).toBe(0);
      expect(await deliveryEvents(id)).toBe(0);
    }
    // Exactly AUDIT_RETENTION_DAYS old: kept, with its attempts and delivery events (its payload is cleared).
    expect(await notification(edge)).toMatchObject({ status: "delivered", payload: null });
    expect(await attempts(edge)).toBe(edgeAttempts);
    expect(await deliveryEvents(edge)).toBe(1);
    expect(await counter("relay_audit_rows_deleted_total", "notification")).toBeGreaterThanOrEqual(3);
    expect(
      h.logs.filter((l) => l.message === "retention purge: personal data cleared, old audit rows deleted").at(-1),
    ).toMatchObject({ notifications: 3, deleteBefore: deleteBefore().toISOString() });
  });

  it("never deletes or clears a received or queued notification, however old", async () => {
    const waiting = [await received(), await queued()];
    for (const id of waiting) await arrivedAt(id, new Date(nowMs - 3650 * DAY));

    const result = await h.container.purge.purgeAll();

    expect(result).toMatchObject({ notifications: 0, payloads: 0 });
    for (const id of waiting) expect((await notification(id))?.payload).not.toBeNull();
  });

  it("keeps an old notification changed within the retention (an operator replayed it)", async () => {
    const id = await delivered();
    await arrivedAt(id, new Date(nowMs - 200 * DAY));
    await prisma().$executeRaw`UPDATE notifications SET updated_at = ${deleteBefore()} WHERE event_id = ${id}`;
    await h.container.purge.purgeAll();
    expect(await notification(id)).not.toBeNull();
  });

  it("deletes quarantined messages and delivery events nothing else deleted older than it; keeps those at the edge", async () => {
    const oldMessage = await quarantined(justBefore(deleteBefore()));
    const edgeMessage = await quarantined(deleteBefore());
    const oldEndpointEvent = await deliveryEvent(null, justBefore(deleteBefore()));
    const edgeEndpointEvent = await deliveryEvent(null, deleteBefore());

    expect(await h.container.purge.purgeAll()).toMatchObject({ quarantined: 1, deliveryEvents: 1 });

    expect(await quarantineRow(oldMessage)).toBeNull();
    expect(await quarantineRow(edgeMessage)).not.toBeNull();
    const left = (await prisma().svixDeliveryEvent.findMany()).map((e) => e.svixId);
    expect(left).toEqual([edgeEndpointEvent]);
    expect(left).not.toContain(oldEndpointEvent);
  });
});

describe("PAYLOAD_RETENTION_DAYS", () => {
  it("clears payloads of settled notifications older than it and keeps those at the edge", async () => {
    const old = await delivered();
    await arrivedAt(old, justBefore(clearBefore()));
    const edge = await delivered();
    await arrivedAt(edge, clearBefore());

    expect(await h.container.purge.purgeAll()).toMatchObject({ payloads: 1, notifications: 0 });
    expect(await notification(old)).toMatchObject({ payload: null, status: "delivered" });
    expect((await notification(edge))?.payload).not.toBeNull();
  });

  it("clears the quarantine's body, message and details older than it, keeping reason, ids, sizes and times", async () => {
    const old = await quarantined(justBefore(clearBefore()));
    const edge = await quarantined(clearBefore());
    const before = await quarantineRow(old);
    expect(before?.details).toMatch(/@example\.com/); // the details quote the body's keys
    const purgedBefore = await counter("relay_payloads_purged_total", "quarantine");

    expect(await h.container.purge.purgeAll()).toMatchObject({ quarantineBodies: 1 });

    const after = await quarantineRow(old);
    expect(after).toMatchObject({
      body: null,
      message: "",
      details: "[]",
      reason: before?.reason,
      pubsubMessageId: before?.pubsubMessageId,
      subscription: before?.subscription,
      eventId: before?.eventId,
      bodyBytes: before?.bodyBytes,
      receivedAt: before?.receivedAt,
    });
    expect(after?.bodyPurgedAt?.getTime()).toBe(nowMs);
    expect(await quarantineRow(edge)).toMatchObject({ message: expect.stringMatching(/./), body: expect.anything() });
    expect((await quarantineRow(edge))?.details).toMatch(/@example\.com/);
    expect(await counter("relay_payloads_purged_total", "quarantine")).toBe(purgedBefore + 1);

    // What operators see: nothing quoted any more, and when it was cleared.
    const listed = (await h.http.get("/quarantine").expect(200)).body.data as Array<Record<string, unknown>>;
    expect(listed.find((m) => m.id === old.toString())).toMatchObject({
      message: "",
      details: [],
      body: null,
      purgedAt: new Date(nowMs).toISOString(),
    });
    expect(JSON.stringify(listed.find((m) => m.id === old.toString()))).not.toContain("@example.com");
  });
});

describe("batches", () => {
  it("are bounded: a backlog larger than one batch is cleared and deleted over several", async () => {
    const toDelete: string[] = [];
    const toClear: string[] = [];
    for (let i = 0; i < 2 * BATCH + 1; i++) {
      toDelete.push(await delivered());
      toClear.push(await delivered());
    }
    for (const id of toDelete) await arrivedAt(id, new Date(nowMs - 100 * DAY));
    for (const id of toClear) await arrivedAt(id, new Date(nowMs - 40 * DAY));
    const cutoffs = { clearBefore: clearBefore(), deleteBefore: deleteBefore() };

    // One batch: at most BATCH of each kind, and it says there is more. Deleting comes first:
    // nothing is cleared that is about to be deleted.
    const one = await h.container.retention.purge(cutoffs, BATCH, new Date(nowMs));
    expect(one).toMatchObject({ notifications: BATCH, payloads: 0, more: true });
    expect(await prisma().notification.count()).toBe(toDelete.length + toClear.length - BATCH);
    expect(await h.container.retention.purge(cutoffs, BATCH, new Date(nowMs))).toMatchObject({
      notifications: BATCH,
      more: true,
    });
    expect(await h.container.retention.purge(cutoffs, BATCH, new Date(nowMs))).toMatchObject({
      notifications: 1,
      payloads: BATCH,
      more: true,
    });

    // The worker goes on, batch after batch, until nothing is left.
    expect(await h.container.purge.purgeAll()).toMatchObject({
      notifications: 0,
      payloads: toClear.length - BATCH,
    });
    expect(await prisma().notification.count()).toBe(toClear.length);
    expect(await prisma().notification.count({ where: { payload: { not: null } } })).toBe(0);
    expect(await h.container.retention.purge(cutoffs, BATCH, new Date(nowMs))).toMatchObject({ more: false });
  });

  it.skipIf(!usingPostgres())("are skipped while another instance is purging (the lock)", async () => {
    const old = await delivered();
    await arrivedAt(old, new Date(nowMs - 100 * DAY));
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const lockTaken = new Promise<void>((resolve) => (locked = resolve));
    const other = prisma().$transaction(async (tx) => {
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(727073691)`;
      locked();
      await held;
    });
    await Promise.race([lockTaken, other]);
    try {
      expect(await h.container.purge.purgeAll()).toMatchObject({ notifications: 0, payloads: 0, skipped: true });
      expect(await notification(old)).not.toBeNull();
    } finally {
      release();
      await other;
    }
    expect(await h.container.purge.purgeAll()).toMatchObject({ notifications: 1, skipped: false });
  });
});
