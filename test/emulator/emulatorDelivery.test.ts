import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { MessageStatus, Svix, Webhook } from "svix";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { MessageAttemptEventData } from "../../src/emulator/operationalEvents.ts";
import { SvixEmulator } from "../../src/emulator/svixEmulator.ts";
import { WebhookSink, type ReceivedWebhook } from "../../src/emulator/webhookSink.ts";

// Webhook delivery and Svix's operational webhooks, end to end over real HTTP: the svix SDK
// creates endpoints and messages, the emulator delivers to a WebhookSink that verifies each
// signature with the SDK's Webhook class, and a second sink receives the operational webhooks.
const ENDPOINT_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const OPS_SECRET = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
const SCHEDULE_MS = [0, 40, 80];

let emulator: SvixEmulator;
let svix: Svix;
let sink: WebhookSink;
let ops: WebhookSink;
beforeAll(async () => {
  sink = new WebhookSink({ secret: ENDPOINT_SECRET });
  ops = new WebhookSink({ secret: OPS_SECRET });
  await Promise.all([sink.start(), ops.start()]);
  emulator = new SvixEmulator({
    apiKey: "sk_test",
    retryScheduleMs: SCHEDULE_MS,
    deliveryTimeoutMs: 5000,
    disableEndpointAfter: 3,
    operationalWebhook: { url: `${ops.url}ops`, secret: OPS_SECRET },
  });
  svix = new Svix("sk_test", { serverUrl: await emulator.start(), retryScheduleInMs: [] });
});
afterAll(() => Promise.all([emulator.stop(), sink.stop(), ops.stop()]));
beforeEach(() => {
  emulator.reset();
  sink.clear();
  sink.failNext(0);
  ops.clear();
});

async function appWithEndpoint(eventTypes?: string[]) {
  const app = await svix.application.create({ name: "Acme", uid: "acme" });
  const ep = await svix.endpoint.create("acme", {
    url: `${sink.url}hooks`,
    uid: "acme-main",
    secret: ENDPOINT_SECRET,
    eventTypes,
  });
  return { app, ep };
}

const opsOfType = (type: string) => ops.received.filter((w) => w.eventType === type);
const dataOf = (webhook: ReceivedWebhook | undefined) => (webhook!.body as { data: MessageAttemptEventData }).data;

describe("delivery", () => {
  it("POSTs the payload signed as Svix does, and records the attempt", async () => {
    await appWithEndpoint();
    const payload = { id: "evt_1", type: "user.created", data: { name: "Ada" } };
    const msg = await svix.message.create("acme", { eventType: "user.created", eventId: "evt_1", payload });
    const [webhook] = await sink.waitFor((r) => r.length === 1);
    expect(webhook).toMatchObject({
      id: msg.id,
      path: "/hooks",
      eventType: "user.created",
      body: payload,
      answeredStatus: 204,
    });
    // The sink verified it already; again here, with the SDK, to show what a receiver does.
    expect(() =>
      new Webhook(ENDPOINT_SECRET).verify(webhook?.rawBody ?? "", webhook?.signatureHeaders ?? {}),
    ).not.toThrow();
    expect(() => new Webhook(OPS_SECRET).verify(webhook?.rawBody ?? "", webhook?.signatureHeaders ?? {})).toThrow();
    expect(Math.abs(Number(webhook?.signatureHeaders["svix-timestamp"]) - Date.now() / 1000)).toBeLessThan(5);

    await expect.poll(() => emulator.pendingDeliveries).toBe(0);
    const attempts = await svix.messageAttempt.listByMsg("acme", "evt_1");
    expect(attempts.data).toHaveLength(1);
    expect(attempts.data[0]).toMatchObject({
      msgId: msg.id,
      status: MessageStatus.Success,
      statusText: "success",
      responseStatusCode: 204,
      url: `${sink.url}hooks`,
      triggerType: 0,
    });
    expect(attempts.data[0]?.id).toMatch(/^atmpt_[A-Za-z0-9]{27}$/);
    expect(ops.received).toHaveLength(0);
  });

  it("delivers only the event types an endpoint asked for", async () => {
    await appWithEndpoint(["user.created"]);
    const skipped = await svix.message.create("acme", { eventType: "user.deleted", payload: { type: "user.deleted" } });
    await svix.message.create("acme", { eventType: "user.created", payload: { type: "user.created" } });
    await sink.waitFor((r) => r.length === 1);
    await expect.poll(() => emulator.pendingDeliveries).toBe(0);
    expect(sink.received.map((w) => w.eventType)).toEqual(["user.created"]);
    expect((await svix.messageAttempt.listByMsg("acme", skipped.id)).data).toHaveLength(0);
  });

  it("retries a failing endpoint on the schedule, then sends message.attempt.exhausted", async () => {
    const { app, ep } = await appWithEndpoint();
    sink.failNext(Infinity);
    const msg = await svix.message.create("acme", {
      eventType: "user.created",
      eventId: "evt_ex",
      payload: { type: "user.created" },
    });
    const [exhausted] = await ops
      .waitFor(() => opsOfType("message.attempt.exhausted").length === 1)
      .then(() => opsOfType("message.attempt.exhausted"));
    expect(sink.received.map((w) => [w.id, w.answeredStatus])).toEqual([
      [msg.id, 500],
      [msg.id, 500],
      [msg.id, 500],
    ]);
    const gaps = sink.received
      .slice(1)
      .map((w, i) => w.receivedAt.getTime() - (sink.received[i]?.receivedAt.getTime() ?? 0));
    expect(gaps[0]).toBeGreaterThanOrEqual(SCHEDULE_MS[1]! - 5);
    expect(gaps[1]).toBeGreaterThanOrEqual(SCHEDULE_MS[2]! - 5);

    const attempts = (await svix.messageAttempt.listByMsg("acme", msg.id)).data;
    expect(attempts.map((a) => a.responseStatusCode)).toEqual([500, 500, 500]);
    expect(exhausted?.body).toEqual({
      type: "message.attempt.exhausted",
      data: {
        appId: app.id,
        appUid: "acme",
        msgId: msg.id,
        msgEventId: "evt_ex",
        endpointId: ep.id,
        lastAttempt: { id: attempts[0]?.id, timestamp: attempts[0]?.timestamp.toISOString(), responseStatusCode: 500 },
      },
    });
    expect(exhausted?.path).toBe("/ops");
    expect(exhausted?.id).toMatch(/^msg_[A-Za-z0-9]{27}$/);
    expect(exhausted?.id).not.toBe(msg.id);
    expect(() =>
      new Webhook(OPS_SECRET).verify(exhausted?.rawBody ?? "", exhausted?.signatureHeaders ?? {}),
    ).not.toThrow();
    expect(opsOfType("message.attempt.failing")).toHaveLength(1);
    const status = (await (await fetch(`${emulator.url}/_emulator/operational-webhook`)).json()) as {
      url: string;
      deliveries: Array<{ status: string }>;
    };
    expect(status.url).toBe(`${ops.url}ops`);
    expect(JSON.stringify(status)).not.toContain(OPS_SECRET.slice(6));
  });

  it("sends message.attempt.failing on a failure and .recovered when a retry succeeds", async () => {
    const { ep } = await appWithEndpoint();
    sink.failNext(1);
    const msg = await svix.message.create("acme", { eventType: "user.created", eventId: "evt_rec", payload: {} });
    await ops.waitFor((r) => r.length === 2);
    expect(ops.received.map((w) => w.eventType)).toEqual(["message.attempt.failing", "message.attempt.recovered"]);
    const [failing, recovered] = ops.received.map(dataOf);
    expect(failing).toMatchObject({
      msgId: msg.id,
      msgEventId: "evt_rec",
      endpointId: ep.id,
      appUid: "acme",
      lastAttempt: { responseStatusCode: 500 },
    });
    expect(recovered).toMatchObject({ msgId: msg.id, endpointId: ep.id, lastAttempt: { responseStatusCode: 204 } });
    expect(sink.accepted()).toHaveLength(1);
  });

  it("disables an endpoint after N exhausted messages in a row (endpoint.disabled), and PATCH disabled:false sends endpoint.enabled", async () => {
    const { app, ep } = await appWithEndpoint();
    sink.failNext(Infinity);
    for (const n of [1, 2, 3])
      await svix.message.create("acme", { eventType: "user.created", eventId: `evt_${n}`, payload: {} });
    const [disabled] = await ops
      .waitFor(() => opsOfType("endpoint.disabled").length === 1)
      .then(() => opsOfType("endpoint.disabled"));
    expect(disabled?.body).toEqual({
      type: "endpoint.disabled",
      data: {
        appId: app.id,
        appUid: "acme",
        endpointId: ep.id,
        endpointUid: "acme-main",
        failSince: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        trigger: "automatic",
      },
    });
    expect(opsOfType("message.attempt.exhausted")).toHaveLength(3);
    expect((await svix.endpoint.get("acme", ep.id)).disabled).toBe(true);

    const ignored = await svix.message.create("acme", { eventType: "user.created", payload: {} });
    await expect.poll(() => emulator.pendingDeliveries).toBe(0);
    expect((await svix.messageAttempt.listByMsg("acme", ignored.id)).data).toHaveLength(0);

    sink.failNext(0);
    await svix.endpoint.patch("acme", "acme-main", { disabled: false });
    const [enabled] = await ops
      .waitFor(() => opsOfType("endpoint.enabled").length === 1)
      .then(() => opsOfType("endpoint.enabled"));
    expect(enabled?.body).toEqual({
      type: "endpoint.enabled",
      data: { appId: app.id, appUid: "acme", endpointId: ep.id, endpointUid: "acme-main" },
    });
    await svix.message.create("acme", { eventType: "user.created", payload: { again: true } });
    await sink.waitFor(() => sink.accepted().length === 1);
  });

  it("sends endpoint.disabled with trigger manual when disabled by PATCH", async () => {
    const { ep } = await appWithEndpoint();
    await svix.endpoint.patch("acme", ep.id, { disabled: true });
    await ops.waitFor((r) => r.length === 1);
    expect(dataOf(ops.received[0])).toMatchObject({
      endpointId: ep.id,
      endpointUid: "acme-main",
      failSince: null,
      trigger: "manual",
    });
  });

  it("counts a timeout or a refused connection as a failed attempt (status code 0), without slowing message.create", async () => {
    const silent: Server = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const closed: Server = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    // Its own emulator: a short timeout on the shared one could fail a slow but healthy delivery.
    const impatient = new SvixEmulator({
      retryScheduleMs: SCHEDULE_MS,
      deliveryTimeoutMs: 150,
      operationalWebhook: { url: ops.url, secret: OPS_SECRET },
    });
    const client = new Svix("any", { serverUrl: await impatient.start(), retryScheduleInMs: [] });
    try {
      await client.application.create({ name: "p", uid: "p" });
      const hanging = await client.endpoint.create("p", {
        url: `http://127.0.0.1:${(silent.address() as AddressInfo).port}/`,
        secret: ENDPOINT_SECRET,
      });
      const refused = await client.endpoint.create("p", {
        url: `http://127.0.0.1:${closedPort}/`,
        secret: ENDPOINT_SECRET,
      });
      const msg = await client.message.create("p", { eventType: "t", payload: {} });
      // The answer came before the hanging endpoint's first attempt could end (150 ms timeout).
      expect((impatient.state.attempts.get(msg.id) ?? []).filter((a) => a.endpointId === hanging.id)).toEqual([]);
      await ops.waitFor(() => opsOfType("message.attempt.exhausted").length === 2, 3000);
      const attempts = (await client.messageAttempt.listByMsg("p", msg.id, { endpointId: hanging.id })).data;
      expect(attempts.map((a) => [a.responseStatusCode, a.response, a.statusText])).toEqual(
        Array(3).fill([0, "timeout", "fail"]),
      );
      const refusals = (await client.messageAttempt.listByMsg("p", msg.id, { endpointId: refused.id })).data;
      expect(refusals.map((a) => [a.responseStatusCode, a.response])).toEqual(
        Array(3).fill([0, "connection error: ECONNREFUSED"]),
      );
    } finally {
      await impatient.stop();
      silent.closeAllConnections();
      silent.close();
    }
  });

  it("retries an operational webhook that fails, then drops it", async () => {
    const quick = new SvixEmulator({
      operationalRetryScheduleMs: [0, 20, 40],
      retryScheduleMs: [0],
      operationalWebhook: { url: ops.url, secret: OPS_SECRET },
    });
    const client = new Svix("any", { serverUrl: await quick.start(), retryScheduleInMs: [] });
    try {
      await client.application.create({ name: "p", uid: "p" });
      await client.endpoint.create("p", { url: sink.url, secret: ENDPOINT_SECRET });
      sink.failNext(Infinity);
      ops.failNext(Infinity);
      await client.message.create("p", { eventType: "t", payload: {} });
      await expect.poll(() => quick.operational.deliveries[0]?.status).toBe("dropped");
      expect(quick.operational.deliveries).toEqual([
        expect.objectContaining({ type: "message.attempt.exhausted", attempts: 3, lastStatusCode: 500 }),
      ]);
      expect(new Set(ops.received.map((w) => w.id)).size).toBe(1);
      expect(ops.received).toHaveLength(3);
    } finally {
      await quick.stop();
    }
  });

  it("cancels pending retries on reset and stop, so nothing fires afterwards", async () => {
    const slow = new SvixEmulator({ retryScheduleMs: [0, 60_000] });
    const client = new Svix("any", { serverUrl: await slow.start(), retryScheduleInMs: [] });
    await client.application.create({ name: "p", uid: "p" });
    await client.endpoint.create("p", { url: sink.url, secret: ENDPOINT_SECRET });
    sink.failNext(Infinity);
    await client.message.create("p", { eventType: "t", payload: {} });
    await sink.waitFor((r) => r.length === 1);
    await expect.poll(() => slow.pendingDeliveries).toBe(1);
    slow.reset();
    expect(slow.pendingDeliveries).toBe(0);
    await slow.stop();
  });
});

describe("the webhook sink", () => {
  it("answers 401 to an unsigned or forged request and keeps nothing from it", async () => {
    const body = JSON.stringify({ type: "user.created" });
    const unsigned = await fetch(sink.url, { method: "POST", body });
    const forgedHeaders = {
      "svix-id": "msg_x",
      "svix-timestamp": String(Math.floor(Date.now() / 1000)),
      "svix-signature": new Webhook(OPS_SECRET).sign("msg_x", new Date(), body),
    };
    const forged = await fetch(sink.url, { method: "POST", body, headers: forgedHeaders });
    const tampered = await fetch(sink.url, {
      method: "POST",
      body: body.replace("created", "deleted"),
      headers: { ...forgedHeaders, "svix-signature": new Webhook(ENDPOINT_SECRET).sign("msg_x", new Date(), body) },
    });
    expect([unsigned.status, forged.status, tampered.status]).toEqual([401, 401, 401]);
    expect(sink.rejected).toBe(3);
    expect(sink.received).toHaveLength(0);
  });
});

describe("operational webhook control route", () => {
  it("sets, refuses a bad secret, and turns off with null", async () => {
    const put = (body: unknown) =>
      fetch(`${emulator.url}/_emulator/operational-webhook`, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    expect((await put({ url: "http://127.0.0.1:1/", secret: "nope" })).status).toBe(400);
    expect((await put({ url: "ftp://x/", secret: OPS_SECRET })).status).toBe(400);
    const set = await put({ url: `${ops.url}elsewhere`, secret: OPS_SECRET });
    expect(await set.json()).toEqual({ url: `${ops.url}elsewhere` });
    expect(emulator.operational.url).toBe(`${ops.url}elsewhere`);
    expect(await (await put(null)).json()).toEqual({ url: null });
    emulator.reset();
    expect(emulator.operational.url).toBe(`${ops.url}ops`);
  });
});
