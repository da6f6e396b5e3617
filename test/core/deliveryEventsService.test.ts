import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DeliveryEventStore } from "../../src/db/deliveryEventStore.ts";
import { NotificationStore } from "../../src/db/notificationStore.ts";
import { createMetrics, type Metrics } from "../../src/observability/metrics.ts";
import { makeEvent } from "../helpers/events.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/testDatabase.ts";
import { DELIVERY_EVENT_TYPES, DeliveryEventsService } from "../../src/core/deliveryEventsService.ts";
import { eventDigest } from "../../src/core/eventDigest.ts";
import { appUidFor, svixEventIdFor } from "../../src/core/svixIdentifiers.ts";
import { captureLogs } from "../helpers/capturedLogs.ts";

// What Svix's operational webhooks leave in the ledger (real database, real store), in the
// metrics and in the logs (the real logger, its lines kept), once verified by the router.
let t: TestDatabase;
let notifications: NotificationStore;
let ledger: DeliveryEventStore;
beforeAll(async () => {
  t = await createTestDatabase();
  notifications = new NotificationStore({ prisma: t.db.prisma, sql: t.db.sql });
  ledger = new DeliveryEventStore({ prisma: t.db.prisma });
});
afterAll(() => t.drop());

/** A service on the test database with its own metrics and a logger whose lines are kept, parsed. */
function service(): { service: DeliveryEventsService; metrics: Metrics; logs: Array<Record<string, unknown>> } {
  const { logger, records: logs } = captureLogs("debug");
  const metrics = createMetrics();
  return {
    service: new DeliveryEventsService({
      ledger,
      logger,
      metrics,
      clock: { now: () => new Date(RECEIVED_AT).getTime() },
    }),
    metrics,
    logs,
  };
}

/**
 * A notification Svix holds as message `msgId` (delivered through the real ledger); with msgId
 * null, one Svix answered 409 for (a duplicate): the relay never learned its message id.
 */
async function delivered(
  overrides: Parameters<typeof makeEvent>[0] = {},
  msgId: string | null = `msg_${randomUUID().replaceAll("-", "")}`,
) {
  const event = makeEvent(overrides);
  await notifications.insert({
    event,
    transport: { kind: "body" },
    payloadDigest: eventDigest(event),
    status: "received",
    claimToken: "owner",
    claimExpiresAt: new Date(Date.now() + 30_000),
  });
  await notifications.complete(event.id, "owner", {
    status: "delivered",
    countsAsFailure: false,
    svixAppUid: appUidFor(event.project),
    ...(msgId ? { svixMessageId: msgId } : {}),
    attempts: [
      msgId
        ? {
            trigger: "ingress",
            operation: "message.create",
            startedAt: new Date(),
            durationMs: 3,
            outcome: "delivered",
            httpStatus: 202,
            svixMessageId: msgId,
          }
        : {
            trigger: "ingress",
            operation: "message.create",
            startedAt: new Date(),
            durationMs: 3,
            outcome: "duplicate",
            httpStatus: 409,
          },
    ],
  });
  return { event, msgId: msgId ?? "" };
}

const svixId = () => `msg_${randomUUID().replaceAll("-", "")}`;
const row = (id: string) => t.db.prisma.svixDeliveryEvent.findUnique({ where: { svixId: id } });
/** The row as the ledger keeps it, without the database's own columns. */
async function stored(id: string) {
  const r = await row(id);
  if (!r) return null;
  const { id: _id, receivedAt: _receivedAt, ...rest } = r;
  return rest;
}
const counted = async (metrics: Metrics) =>
  (await metrics.deliveryEvents.get()).values.map((v) => ({ labels: v.labels, value: v.value }));

const AT = "2026-11-27T10:00:05.123Z";
const FAIL_SINCE = "2026-11-26T08:30:00.456Z";
/** The relay's clock when a webhook arrives (what an unreadable time falls back to). */
const RECEIVED_AT = "2026-11-27T11:11:11.111Z";
const DIGEST_APP = `prj_${"0123456789abcdef0123456789abcdef01234567"}`;

describe("DeliveryEventsService.record: the operational webhooks the relay keeps", () => {
  it("keeps exactly the five delivery types", () => {
    expect([...DELIVERY_EVENT_TYPES].sort()).toEqual([
      "endpoint.disabled",
      "endpoint.enabled",
      "message.attempt.exhausted",
      "message.attempt.failing",
      "message.attempt.recovered",
    ]);
  });

  it.each([
    "background_task.finished",
    "endpoint.created",
    "endpoint.updated",
    "endpoint.deleted",
    "message.attempt",
    "MESSAGE.ATTEMPT.EXHAUSTED",
    "",
  ])("ignores a type it does not keep (%j): nothing stored, counted or logged", async (type) => {
    const { service: s, metrics, logs } = service();
    const id = svixId();
    const result = await s.record({
      svixId: id,
      type,
      data: { appUid: "acme-mobile", endpointId: "ep_1", failSince: FAIL_SINCE },
    });
    expect(result).toStrictEqual({ stored: false, ignored: true, eventId: null });
    expect(await row(id)).toBeNull();
    expect(await counted(metrics)).toEqual([]);
    expect(logs).toEqual([]);
  });

  it("records message.attempt.exhausted on the notification it concerns (Svix's eventId is our event id): stored, counted, warned", async () => {
    const { event, msgId } = await delivered({ project: "acme-mobile" });
    const { service: s, metrics, logs } = service();
    const id = svixId();
    const result = await s.record({
      svixId: id,
      type: "message.attempt.exhausted",
      data: {
        appId: "app_1",
        appUid: "acme-mobile",
        msgId,
        msgEventId: event.id,
        endpointId: "ep_1",
        lastAttempt: { id: "atmpt_1", timestamp: AT, responseStatusCode: 500 },
      },
    });
    expect(result).toStrictEqual({ stored: true, eventId: event.id });
    expect(await stored(id)).toEqual({
      svixId: id,
      type: "message.attempt.exhausted",
      eventId: event.id,
      appUid: "acme-mobile",
      project: "acme-mobile",
      msgId,
      endpointId: "ep_1",
      responseStatus: 500,
      occurredAt: new Date(AT),
    });
    expect(await counted(metrics)).toEqual([{ labels: { type: "message.attempt.exhausted" }, value: 1 }]);
    expect(logs).toEqual([
      {
        severity: "WARNING",
        level: "warn",
        time: expect.any(Number),
        svixType: "message.attempt.exhausted",
        eventId: event.id,
        project: "acme-mobile",
        endpointId: "ep_1",
        responseStatus: 500,
        message: "Svix reported on delivery to a customer endpoint",
      },
    ]);
  });

  it("matches by Svix's message id when Svix's eventId was a digest, and takes the project from the notification, not the digest uid", async () => {
    const project = "acme mobile (legacy)"; // Svix cannot take it as a uid: the app uid is a digest
    const { event, msgId } = await delivered({ id: `evt legacy/${randomUUID()}`, project });
    const { service: s, logs } = service();
    const id = svixId();
    const appUid = appUidFor(project);
    expect(appUid).toMatch(/^prj_[0-9a-f]{40}$/);
    const result = await s.record({
      svixId: id,
      type: "message.attempt.failing",
      data: {
        appUid,
        msgId,
        msgEventId: svixEventIdFor(event.id),
        endpointId: "ep_2",
        lastAttempt: { timestamp: AT, responseStatusCode: 503 },
      },
    });
    expect(result).toStrictEqual({ stored: true, eventId: event.id });
    expect(await stored(id)).toMatchObject({ eventId: event.id, appUid, project, msgId, responseStatus: 503 });
    expect(logs).toEqual([
      expect.objectContaining({
        level: "info",
        severity: "INFO",
        svixType: "message.attempt.failing",
        eventId: event.id,
        project,
        endpointId: "ep_2",
        responseStatus: 503,
      }),
    ]);
  });

  it("matches by our event id alone when the relay never learned Svix's message id (Svix answered 409)", async () => {
    const { event } = await delivered({ project: "acme-mobile" }, null);
    expect((await notifications.summary(event.id))?.svixMessageId).toBeNull();
    const { service: s } = service();
    const id = svixId();
    const result = await s.record({
      svixId: id,
      type: "message.attempt.exhausted",
      data: {
        appUid: "acme-mobile",
        msgId: "msg_the_relay_never_saw",
        msgEventId: event.id,
        endpointId: "ep_1",
        lastAttempt: { timestamp: AT, responseStatusCode: 410 },
      },
    });
    expect(result).toStrictEqual({ stored: true, eventId: event.id });
    expect(await stored(id)).toMatchObject({
      eventId: event.id,
      project: "acme-mobile",
      msgId: "msg_the_relay_never_saw",
      responseStatus: 410,
    });
  });

  it("prefers the notification's project over the app uid when both name one", async () => {
    const { event, msgId } = await delivered({ project: "acme-mobile" });
    const { service: s } = service();
    const id = svixId();
    await s.record({
      svixId: id,
      type: "message.attempt.recovered",
      data: {
        appUid: "some-other-app",
        msgId,
        msgEventId: event.id,
        endpointId: "ep_1",
        lastAttempt: { timestamp: AT, responseStatusCode: 200 },
      },
    });
    expect(await stored(id)).toMatchObject({
      eventId: event.id,
      appUid: "some-other-app",
      project: "acme-mobile",
      responseStatus: 200,
    });
  });

  it("a message event it cannot match keeps no event id, and the app uid as the project", async () => {
    const { service: s, logs } = service();
    const id = svixId();
    const result = await s.record({
      svixId: id,
      type: "message.attempt.exhausted",
      data: {
        appUid: "acme-outcomes",
        msgId: "msg_unknown",
        msgEventId: "evt_unknown",
        endpointId: "ep_9",
        lastAttempt: { timestamp: AT, responseStatusCode: 404 },
      },
    });
    expect(result).toStrictEqual({ stored: true, eventId: null });
    expect(await stored(id)).toEqual({
      svixId: id,
      type: "message.attempt.exhausted",
      eventId: null,
      appUid: "acme-outcomes",
      project: "acme-outcomes",
      msgId: "msg_unknown",
      endpointId: "ep_9",
      responseStatus: 404,
      occurredAt: new Date(AT),
    });
    expect(logs).toEqual([
      expect.objectContaining({
        level: "warn",
        eventId: null,
        project: "acme-outcomes",
        endpointId: "ep_9",
        responseStatus: 404,
      }),
    ]);
  });

  it("a digest app uid it cannot match names no project (the digest alone does not say which)", async () => {
    const { service: s } = service();
    const id = svixId();
    await s.record({
      svixId: id,
      type: "message.attempt.failing",
      data: { appUid: DIGEST_APP, msgId: "msg_unknown", msgEventId: "evt_unknown", lastAttempt: { timestamp: AT } },
    });
    expect(await stored(id)).toMatchObject({ eventId: null, appUid: DIGEST_APP, project: null });
  });

  it.each([
    ["39 hex digits", `prj_${"a".repeat(39)}`],
    ["41 hex digits", `prj_${"a".repeat(41)}`],
    ["upper-case hex", `prj_${"A".repeat(40)}`],
    ["a non-hex letter", `prj_${"g".repeat(40)}`],
    ["another prefix", `app_${"a".repeat(40)}`],
    ["text before the prefix", `xprj_${"a".repeat(40)}`],
  ])("an app uid that only looks like a digest (%s) is the project", async (_what, appUid) => {
    const { service: s } = service();
    const id = svixId();
    await s.record({
      svixId: id,
      type: "endpoint.disabled",
      data: { appUid, endpointId: "ep_1", failSince: FAIL_SINCE },
    });
    expect(await stored(id)).toMatchObject({ appUid, project: appUid });
  });

  it("records endpoint.disabled without a message: project from the app uid, when from failSince, warned", async () => {
    const { service: s, metrics, logs } = service();
    const id = svixId();
    const result = await s.record({
      svixId: id,
      type: "endpoint.disabled",
      data: {
        appId: "app_1",
        appUid: "acme-mobile",
        endpointId: "ep_1",
        endpointUid: null,
        failSince: FAIL_SINCE,
        trigger: "automatic",
      },
    });
    expect(result).toStrictEqual({ stored: true, eventId: null });
    expect(await stored(id)).toEqual({
      svixId: id,
      type: "endpoint.disabled",
      eventId: null,
      appUid: "acme-mobile",
      project: "acme-mobile",
      msgId: null,
      endpointId: "ep_1",
      responseStatus: null,
      occurredAt: new Date(FAIL_SINCE),
    });
    expect(await counted(metrics)).toEqual([{ labels: { type: "endpoint.disabled" }, value: 1 }]);
    expect(logs).toEqual([
      {
        severity: "WARNING",
        level: "warn",
        time: expect.any(Number),
        svixType: "endpoint.disabled",
        eventId: null,
        project: "acme-mobile",
        endpointId: "ep_1",
        responseStatus: null,
        message: "Svix reported on delivery to a customer endpoint",
      },
    ]);
  });

  it("never matches an endpoint event to a notification, even when its data names one", async () => {
    const { event, msgId } = await delivered({ project: "acme-mobile" });
    const { service: s } = service();
    const id = svixId();
    const result = await s.record({
      svixId: id,
      type: "endpoint.enabled",
      data: { appUid: "other-app", msgId, msgEventId: event.id, endpointId: "ep_1" },
    });
    expect(result).toStrictEqual({ stored: true, eventId: null });
    expect(await stored(id)).toMatchObject({ eventId: null, project: "other-app", msgId });
  });

  it.each([
    ["message.attempt.exhausted", "warn", "WARNING"],
    ["endpoint.disabled", "warn", "WARNING"],
    ["message.attempt.failing", "info", "INFO"],
    ["message.attempt.recovered", "info", "INFO"],
    ["endpoint.enabled", "info", "INFO"],
  ])("%s is stored, counted under its type and logged at %s", async (type, level, severity) => {
    const { service: s, metrics, logs } = service();
    const id = svixId();
    const result = await s.record({
      svixId: id,
      type,
      data: {
        appUid: "acme-mobile",
        endpointId: "ep_1",
        lastAttempt: { timestamp: AT, responseStatusCode: 502 },
        failSince: FAIL_SINCE,
      },
    });
    expect(result).toStrictEqual({ stored: true, eventId: null });
    expect(await stored(id)).toMatchObject({ type, project: "acme-mobile" });
    expect(await counted(metrics)).toEqual([{ labels: { type }, value: 1 }]);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatchObject({
      level,
      severity,
      svixType: type,
      message: "Svix reported on delivery to a customer endpoint",
    });
  });

  it("stores a webhook Svix sends again (same svix-id) once: no second count, no second log line, same answer", async () => {
    const { event, msgId } = await delivered({ project: "acme-mobile" });
    const { service: s, metrics, logs } = service();
    const id = svixId();
    const webhook = {
      svixId: id,
      type: "message.attempt.exhausted",
      data: {
        appUid: "acme-mobile",
        msgId,
        msgEventId: event.id,
        endpointId: "ep_1",
        lastAttempt: { timestamp: AT, responseStatusCode: 500 },
      },
    };
    expect(await s.record(webhook)).toStrictEqual({ stored: true, eventId: event.id });
    expect(await s.record(webhook)).toStrictEqual({ stored: false, eventId: event.id });
    expect(await t.db.prisma.svixDeliveryEvent.count({ where: { svixId: id } })).toBe(1);
    expect(await counted(metrics)).toEqual([{ labels: { type: "message.attempt.exhausted" }, value: 1 }]);
    expect(logs).toHaveLength(1);
  });

  it("counts each type under its own label", async () => {
    const { service: s, metrics } = service();
    for (const type of ["message.attempt.failing", "message.attempt.failing", "endpoint.enabled"]) {
      await s.record({ svixId: svixId(), type, data: { appUid: "acme-mobile" } });
    }
    expect(await counted(metrics)).toEqual([
      { labels: { type: "message.attempt.failing" }, value: 2 },
      { labels: { type: "endpoint.enabled" }, value: 1 },
    ]);
  });

  it("keeps at most 256 characters of the svix-id", async () => {
    const { service: s } = service();
    const long = `msg_${"x".repeat(296)}`;
    await s.record({ svixId: long, type: "endpoint.enabled", data: { appUid: "acme-mobile" } });
    expect(await row(long)).toBeNull();
    expect(await stored(long.slice(0, 256))).toMatchObject({ svixId: long.slice(0, 256), type: "endpoint.enabled" });
  });

  describe("the time it happened", () => {
    it("is the last attempt's time rather than failSince when Svix gives both", async () => {
      const { service: s } = service();
      const id = svixId();
      await s.record({
        svixId: id,
        type: "message.attempt.failing",
        data: { appUid: "acme-mobile", failSince: FAIL_SINCE, lastAttempt: { timestamp: AT } },
      });
      expect((await row(id))?.occurredAt).toEqual(new Date(AT));
    });

    it("is failSince when there is no last attempt, or it has no time", async () => {
      const { service: s } = service();
      const a = svixId();
      const b = svixId();
      await s.record({ svixId: a, type: "endpoint.disabled", data: { appUid: "acme-mobile", failSince: FAIL_SINCE } });
      await s.record({
        svixId: b,
        type: "message.attempt.failing",
        data: { appUid: "acme-mobile", failSince: FAIL_SINCE, lastAttempt: { responseStatusCode: 500 } },
      });
      expect((await row(a))?.occurredAt).toEqual(new Date(FAIL_SINCE));
      expect((await row(b))?.occurredAt).toEqual(new Date(FAIL_SINCE));
    });

    it.each([
      ["no time at all", {}],
      ["a null last attempt", { lastAttempt: null }],
      ["an unreadable time", { lastAttempt: { timestamp: "yesterday-ish" } }],
      ["an unreadable failSince", { failSince: "not a date" }],
      ["an empty time", { lastAttempt: { timestamp: "" } }],
    ])("is when the relay received it when Svix gave %s", async (_what, data) => {
      const { service: s } = service();
      const id = svixId();
      const result = await s.record({ svixId: id, type: "endpoint.enabled", data: { appUid: "acme-mobile", ...data } });
      expect(result).toStrictEqual({ stored: true, eventId: null });
      expect((await row(id))?.occurredAt).toEqual(new Date(RECEIVED_AT));
    });
  });

  describe("what it keeps of Svix's fields", () => {
    it("keeps the endpoint's last status only when it is an HTTP status (0 to 999; 0: no answer)", async () => {
      const { service: s } = service();
      const statuses: Array<[unknown, number | null]> = [
        [500, 500],
        [0, 0],
        [999, 999],
        [1000, null],
        [-1, null],
        [3_000_000_000, null],
        ["500", null],
        [500.5, null],
        [null, null],
        [undefined, null],
        [true, null],
      ];
      for (const [responseStatusCode, expected] of statuses) {
        const id = svixId();
        await s.record({
          svixId: id,
          type: "message.attempt.failing",
          data: { appUid: "acme-mobile", lastAttempt: { timestamp: AT, responseStatusCode } },
        });
        expect((await row(id))?.responseStatus, JSON.stringify(responseStatusCode)).toBe(expected);
      }
    });

    it.each([
      ["an empty string", ""],
      ["a number", 42],
      ["an array", ["ep_1"]],
      ["an object with a length", { length: 3 }],
      ["257 characters", "e".repeat(257)],
      ["null", null],
    ])("keeps no endpoint id, app uid or message id that is %s", async (_what, value) => {
      const { service: s, logs } = service();
      const id = svixId();
      const result = await s.record({
        svixId: id,
        type: "message.attempt.exhausted",
        data: { appUid: value, msgId: value, msgEventId: value, endpointId: value, lastAttempt: { timestamp: AT } },
      });
      expect(result).toStrictEqual({ stored: true, eventId: null });
      expect(await stored(id)).toMatchObject({ appUid: null, project: null, msgId: null, endpointId: null });
      expect(logs[0]).toMatchObject({ project: null, endpointId: null });
    });

    it("keeps identifiers of 1 and of 256 characters as they are", async () => {
      const { service: s } = service();
      const long = "e".repeat(256);
      const a = svixId();
      const b = svixId();
      await s.record({
        svixId: a,
        type: "message.attempt.failing",
        data: { appUid: long, msgId: long, endpointId: long, lastAttempt: { timestamp: AT } },
      });
      await s.record({
        svixId: b,
        type: "message.attempt.failing",
        data: { appUid: "a", msgId: "m", endpointId: "e", lastAttempt: { timestamp: AT } },
      });
      expect(await stored(a)).toMatchObject({ appUid: long, project: long, msgId: long, endpointId: long });
      expect(await stored(b)).toMatchObject({ appUid: "a", project: "a", msgId: "m", endpointId: "e" });
    });
  });
});
