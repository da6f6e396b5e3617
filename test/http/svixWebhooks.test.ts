import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "svix";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SvixEmulator } from "../../src/emulator/svixEmulator.ts";
import { WebhookSink } from "../../src/emulator/webhookSink.ts";
import { makeEvent } from "../helpers/events.ts";
import { startHarness, type Harness } from "../helpers/relayHarness.ts";
import { waitFor } from "../helpers/waitFor.ts";

// End to end: the relay sends a message to the emulator, the emulator delivers it (signed) to a
// customer endpoint that keeps failing, gives up, and tells the relay so with a signed
// operational webhook on POST /svix/webhooks.
const OPERATOR = "operator-token-0123456789";
const OPERATIONAL_SECRET = `whsec_${randomBytes(24).toString("base64")}`;
const ENDPOINT_SECRET = `whsec_${randomBytes(24).toString("base64")}`;
let h: Harness;
let emulator: SvixEmulator;
let customer: WebhookSink;
let server: Server;

beforeAll(async () => {
  customer = new WebhookSink({ secret: ENDPOINT_SECRET, failFirst: 1_000_000 });
  const endpointUrl = await customer.start();
  emulator = new SvixEmulator({
    apiKey: "test-key",
    retryScheduleMs: [0, 50, 100],
    defaultEndpoint: { url: endpointUrl, secret: ENDPOINT_SECRET },
  });
  await emulator.start();
  h = await startHarness({ SVIX_WEBHOOK_SECRET: OPERATIONAL_SECRET, API_TOKENS: OPERATOR }, { emulator });
  server = createServer(h.app);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  emulator.operational.configure({
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/svix/webhooks`,
    secret: OPERATIONAL_SECRET,
  });
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await h.close();
  await emulator.stop();
  await customer.stop();
});

const asOperator = { authorization: `Bearer ${OPERATOR}` };

function signed(
  body: object,
  secret = OPERATIONAL_SECRET,
  at = new Date(),
  id = `msg_${randomBytes(8).toString("hex")}`,
) {
  const payload = JSON.stringify(body);
  return {
    payload,
    headers: {
      "svix-id": id,
      "svix-timestamp": String(Math.floor(at.getTime() / 1000)),
      "svix-signature": new Webhook(secret).sign(id, at, payload),
      "content-type": "application/json",
    },
  };
}

describe("POST /svix/webhooks (Svix's operational webhooks)", () => {
  it("records a signed message.attempt.exhausted on its notification, visible to operators and in metrics", async () => {
    const event = makeEvent({ project: "acme-outcomes" });
    await h.http.post("/notifications").set(asOperator).send(event).expect(200);
    const detail = async () => (await h.http.get(`/notifications/${event.id}`).set(asOperator).expect(200)).body.data;
    await waitFor(
      async () => (await detail()).deliveryEvents.some((e: { type: string }) => e.type === "message.attempt.exhausted"),
      10_000,
    );
    const outcomes = (await detail()).deliveryEvents as Array<{
      type: string;
      responseStatus: number;
      endpointId: string;
    }>;
    expect(outcomes.map((e) => e.type)).toEqual(["message.attempt.failing", "message.attempt.exhausted"]);
    expect(outcomes[1]).toMatchObject({ responseStatus: 500, endpointId: expect.stringMatching(/^ep_/) });
    expect(customer.received.filter((w) => w.eventType === event.type).length).toBe(3);
    const metrics = (await h.http.get("/metrics").set(asOperator).expect(200)).text;
    expect(metrics).toMatch(/relay_svix_delivery_events_total\{type="message.attempt.exhausted"\} 1\b/);
    expect(h.logs.find((l) => l.svixType === "message.attempt.exhausted")).toMatchObject({
      severity: "WARNING",
      eventId: event.id,
      project: "acme-outcomes",
    });
  });

  it("stores a webhook Svix sends again (same svix-id) once, and needs no API token", async () => {
    const body = {
      type: "endpoint.disabled",
      data: {
        appId: "app_1",
        appUid: "acme-outcomes",
        endpointId: "ep_1",
        endpointUid: null,
        failSince: new Date().toISOString(),
        trigger: "automatic",
      },
    };
    const { payload, headers } = signed(body, OPERATIONAL_SECRET, new Date(), "msg_resent");
    for (let i = 0; i < 2; i += 1) {
      const res = await h.http.post("/svix/webhooks").set(headers).send(payload);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.data).toMatchObject({ type: "endpoint.disabled", stored: i === 0 });
    }
    expect(await h.container.db.prisma.svixDeliveryEvent.count({ where: { svixId: "msg_resent" } })).toBe(1);
    expect(
      (await h.container.db.prisma.svixDeliveryEvent.findUniqueOrThrow({ where: { svixId: "msg_resent" } })).project,
    ).toBe("acme-outcomes");
  });

  it("refuses unsigned, forged and stale webhooks with 401, storing nothing", async () => {
    const body = {
      type: "message.attempt.exhausted",
      data: {
        appUid: "acme-outcomes",
        msgId: "msg_x",
        msgEventId: "evt_x",
        endpointId: "ep_x",
        lastAttempt: { id: "a", timestamp: new Date().toISOString(), responseStatusCode: 500 },
      },
    };
    const before = await h.container.db.prisma.svixDeliveryEvent.count();
    await h.http.post("/svix/webhooks").set("content-type", "application/json").send(JSON.stringify(body)).expect(401);
    const forged = signed(body, `whsec_${randomBytes(24).toString("base64")}`);
    await h.http.post("/svix/webhooks").set(forged.headers).send(forged.payload).expect(401);
    const stale = signed(body, OPERATIONAL_SECRET, new Date(Date.now() - 10 * 60_000));
    await h.http.post("/svix/webhooks").set(stale.headers).send(stale.payload).expect(401);
    const tampered = signed(body);
    await h.http.post("/svix/webhooks").set(tampered.headers).send(tampered.payload.replace("500", "200")).expect(401);
    expect(await h.container.db.prisma.svixDeliveryEvent.count()).toBe(before);
  });
});
