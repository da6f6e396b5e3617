import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { PlatformEvent } from "../../src/core/event.ts";
import { makeEvent } from "../helpers/events.ts";
import {
  createPushSubscription,
  publish,
  startPubsubEmulator,
  type PubsubEmulator,
} from "../helpers/pubsubEmulator.ts";
import { startHarness, type Harness } from "../helpers/relayHarness.ts";
import { waitFor } from "../helpers/waitFor.ts";

// Google's own Pub/Sub emulator pushing to the relay over real HTTP. A small proxy in front of
// the relay records every push (message id and our answer), so a redelivery cannot go unseen.
let pubsub: PubsubEmulator;
beforeAll(async () => {
  pubsub = await startPubsubEmulator({ projectId: "gigs-test" });
});
afterAll(() => pubsub.stop());

interface Push {
  messageId: string;
  status: number;
}

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const fn of cleanup.reverse()) await fn();
  cleanup = [];
});

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanup.push(() => new Promise((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** The relay (dispatcher on) on a real port, behind a recording proxy; returns the push URL. */
async function relayBehindProxy(
  env: Record<string, string> = {},
): Promise<{ h: Harness; url: string; pushes: Push[] }> {
  const h = await startHarness({
    DISPATCH_ENABLED: "true",
    DISPATCH_INTERVAL_MS: "200",
    SVIX_MAX_RETRIES: "0",
    ...env,
  });
  cleanup.push(() => h.close());
  const relayUrl = new URL(await listen(createServer(h.app)));
  const pushes: Push[] = [];
  const proxy = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const forward = request(
        { host: relayUrl.hostname, port: relayUrl.port, method: req.method, path: req.url, headers: req.headers },
        (answer) => {
          const out: Buffer[] = [];
          answer.on("data", (c: Buffer) => out.push(c));
          answer.on("end", () => {
            pushes.push({ messageId: messageIdOf(req.headers, body), status: answer.statusCode ?? 0 });
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            res.end(Buffer.concat(out));
          });
        },
      );
      forward.end(body);
    });
  });
  const url = `${await listen(proxy)}/notifications`;
  return { h, url, pushes };
}

function messageIdOf(headers: Record<string, unknown>, body: Buffer): string {
  const header = headers["x-goog-pubsub-message-id"];
  if (typeof header === "string") return header;
  try {
    return String((JSON.parse(body.toString()) as { message?: { messageId?: string } }).message?.messageId);
  } catch {
    return "unreadable";
  }
}

/** 50 platform events across 5 projects; the first two are published twice. */
async function publishFifty(topic: string): Promise<{ events: PlatformEvent[]; messageIds: string[] }> {
  const events = Array.from({ length: 50 }, (_, i) =>
    makeEvent({
      project: `tenant-${i % 5}`,
      type: ["user.created", "subscription.activated", "payment.succeeded"][i % 3]!,
    }),
  );
  const messageIds: string[] = [];
  for (const event of [...events, events[0]!, events[1]!])
    messageIds.push(await publish(pubsub, topic, JSON.stringify(event)));
  return { events, messageIds };
}

describe("Google's Pub/Sub emulator pushing to the relay", () => {
  it("wrapped: 50 events (two published twice) and a poison message → 50 Svix messages, every push acked on its first delivery, the poison quarantined", async () => {
    const { h, url, pushes } = await relayBehindProxy();
    await createPushSubscription(pubsub, {
      topic: "platform-events",
      subscription: "relay-wrapped",
      pushEndpoint: url,
      ackDeadlineSeconds: 30,
    });
    const { events, messageIds } = await publishFifty("platform-events");
    const poisonId = await publish(pubsub, "platform-events", "this is not an event");
    await waitFor(() => pushes.length >= 53, 60_000, "53 pushes");
    await waitFor(() => h.emulator.state.allMessages().length >= 50, 10_000, "50 messages");
    // Long enough for the emulator to redeliver anything it did not count as acknowledged.
    await new Promise((r) => setTimeout(r, 3000));
    expect(pushes.every((p) => p.status === 200)).toBe(true);
    expect(pushes.map((p) => p.messageId).sort()).toEqual([...messageIds, poisonId].sort());
    const messages = h.emulator.state.allMessages();
    expect(messages.map((m) => m.eventId).sort()).toEqual(events.map((e) => e.id).sort());
    const quarantine = (await h.http.get("/quarantine").expect(200)).body.data;
    expect(quarantine).toHaveLength(1);
    expect(quarantine[0]).toMatchObject({
      reason: "invalid_json",
      transport: {
        kind: "push_wrapped",
        pubsubMessageId: poisonId,
        subscription: "projects/gigs-test/subscriptions/relay-wrapped",
      },
    });
  });

  it("unwrapped (noWrapper, form-encoded content type): each event once, duplicates answered from the ledger", async () => {
    const { h, url, pushes } = await relayBehindProxy();
    await createPushSubscription(pubsub, {
      topic: "platform-events-raw",
      subscription: "relay-unwrapped",
      pushEndpoint: url,
      noWrapper: true,
      writeMetadata: true,
    });
    const events = Array.from({ length: 10 }, () => makeEvent());
    const ids: string[] = [];
    for (const event of [...events, events[3]!])
      ids.push(await publish(pubsub, "platform-events-raw", JSON.stringify(event)));
    await waitFor(() => pushes.length >= 11, 30_000, "11 pushes");
    await new Promise((r) => setTimeout(r, 2000));
    expect(pushes.map((p) => p.messageId).sort()).toEqual([...ids].sort());
    expect(pushes.every((p) => p.status === 200)).toBe(true);
    expect(
      h.emulator.state
        .allMessages()
        .map((m) => m.eventId)
        .sort(),
    ).toEqual(events.map((e) => e.id).sort());
    const row = (await h.http.get(`/notifications/${events[0]!.id}`).expect(200)).body.data;
    expect(row.transport).toMatchObject({
      kind: "push_unwrapped",
      pubsubMessageId: ids[0],
      subscription: "projects/gigs-test/subscriptions/relay-unwrapped",
    });
  });

  it("Svix failing for the first 8 s: nothing is redelivered by Pub/Sub, and all 50 are in Svix, once each, within 10 s of its recovery", async () => {
    const { h, url, pushes } = await relayBehindProxy({ CIRCUIT_FAILURE_THRESHOLD: "3", CIRCUIT_COOLDOWN_MS: "1000" });
    await createPushSubscription(pubsub, {
      topic: "platform-events-outage",
      subscription: "relay-outage",
      pushEndpoint: url,
      ackDeadlineSeconds: 30,
    });
    h.emulator.faults.add({ kind: "status", status: 503, operation: "message.create" });
    const outageEnds = Date.now() + 8000;
    const { events, messageIds } = await publishFifty("platform-events-outage");
    await waitFor(() => pushes.length >= 52, 30_000, "52 pushes");
    expect(h.emulator.state.allMessages()).toHaveLength(0);
    await new Promise((r) => setTimeout(r, Math.max(0, outageEnds - Date.now())));
    h.emulator.faults.clear();
    const recovered = Date.now();
    await waitFor(() => h.emulator.state.allMessages().length >= 50, 20_000, "all 50 in Svix");
    expect(Date.now() - recovered).toBeLessThan(10_000);
    await new Promise((r) => setTimeout(r, 1000));
    expect(
      h.emulator.state
        .allMessages()
        .map((m) => m.eventId)
        .sort(),
    ).toEqual(events.map((e) => e.id).sort());
    // Every push was answered 200 on its first delivery: Pub/Sub never had a reason to retry.
    expect(pushes.map((p) => p.messageId).sort()).toEqual([...messageIds].sort());
    expect(pushes.every((p) => p.status === 200)).toBe(true);
  });
});
