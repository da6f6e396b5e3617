import type { Subscription } from "@google-cloud/pubsub";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { PullWorker } from "../../src/pubsub/pullWorker.ts";
import { makeEvent } from "../helpers/events.ts";
import { createPullSubscription, publish, pullAndAck, startPubsubEmulator, type PubsubEmulator } from "../helpers/pubsubEmulator.ts";
import { startHarness, type Harness } from "../helpers/relayHarness.ts";
import { waitForValue } from "../helpers/waitFor.ts";

// The pull worker in this process (test/pubsub/pullWorker.test.ts runs `npm run worker` as a
// process): a relay harness for the ingest path, Google's emulator for the subscription.
let pubsub: PubsubEmulator;
let h: Harness;
beforeAll(async () => {
  pubsub = await startPubsubEmulator({ projectId: "gigs-pull-inproc" });
  h = await startHarness({ SVIX_MAX_RETRIES: "0", CIRCUIT_FAILURE_THRESHOLD: "1000" });
});
afterAll(async () => {
  await h?.close();
  await pubsub?.stop();
});

let running: { worker: PullWorker; subscription: Subscription } | undefined;
async function stopWorker(): Promise<void> {
  await running?.worker.stop();
  running = undefined;
}
afterEach(stopWorker);

function startWorker(name: string, harness: Harness = h): PullWorker {
  const subscription = pubsub.client().subscription(name, { flowControl: { maxMessages: 8, allowExcessMessages: false } });
  const worker = new PullWorker({ subscription, subscriptionName: name, ingest: harness.container.ingest, logger: harness.container.logger, metrics: harness.container.metrics });
  worker.start();
  running = { worker, subscription };
  return worker;
}

const pulledCount = async (result: string, status: string) =>
  (await h.container.metrics.pulled.get()).values.find((v) => v.labels.result === result && v.labels.status === status)?.value ?? 0;

describe("PullWorker (in process)", () => {
  it("relays a pulled event with its Pub/Sub metadata, then acknowledges it", async () => {
    const name = await createPullSubscription(pubsub, "pull-ok", "relay-pull-ok");
    const event = makeEvent();
    const messageId = await publish(pubsub, "pull-ok", JSON.stringify(event));
    const worker = startWorker(name);
    const row = await waitForValue(async () => {
      const s = await h.container.store.summary(event.id);
      return s?.status === "delivered" ? s : undefined;
    }, "the event delivered");
    expect(row.transport).toMatchObject({ kind: "pull", pubsubMessageId: messageId, subscription: name });
    // No dead-letter policy: Pub/Sub sends no delivery attempt, and none is recorded.
    expect(row.transport.deliveryAttempt).toBeUndefined();
    expect(Date.parse(row.transport.publishTime!)).toBeGreaterThan(Date.now() - 60_000);
    await waitForValue(async () => ((await pulledCount("acked", "delivered")) >= 1 ? true : undefined), "the ack counted");
    await waitForValue(() => (worker.handling === 0 ? true : undefined), "the message done");
    await stopWorker();
    // Acknowledged: nothing is left on the subscription.
    expect(await pullAndAck(pubsub, name)).toEqual([]);
    expect(h.emulator.state.allMessages().filter((m) => m.eventId === event.id)).toHaveLength(1);
  });

  it("quarantines a message that is not an event and acknowledges it", async () => {
    const name = await createPullSubscription(pubsub, "pull-poison", "relay-pull-poison");
    const messageId = await publish(pubsub, "pull-poison", "{ broken");
    const worker = startWorker(name);
    const entry = await waitForValue(async () => (await h.container.quarantine.list({ limit: 50 })).find((q) => q.transport.pubsubMessageId === messageId), "the quarantine entry");
    expect(entry).toMatchObject({ reason: "invalid_json", transport: { kind: "pull", subscription: name } });
    await waitForValue(async () => ((await pulledCount("acked", "quarantined")) >= 1 ? true : undefined), "the ack counted");
    await waitForValue(() => (worker.handling === 0 ? true : undefined), "the message done");
    await stopWorker();
    expect(await pullAndAck(pubsub, name)).toEqual([]);
  });

  it("nacks what it could not record, so Pub/Sub keeps the message for redelivery", async () => {
    const down = await startHarness();
    try {
      await down.container.db.close();
      const name = await createPullSubscription(pubsub, "pull-down", "relay-pull-down");
      const event = makeEvent();
      const messageId = await publish(pubsub, "pull-down", JSON.stringify(event));
      const nacked = async () => (await down.container.metrics.pulled.get()).values.find((v) => v.labels.result === "nacked")?.labels.status;
      const worker = startWorker(name, down);
      expect(await waitForValue(nacked, "a nack counted")).toBe("database_unavailable");
      await stopWorker();
      expect((await down.container.metrics.pulled.get()).values.filter((v) => v.labels.result === "acked")).toEqual([]);
      // Still on the subscription: the next pull gets it.
      const again = await waitForValue(async () => {
        const pulled = await pullAndAck(pubsub, name);
        return pulled.length > 0 ? pulled : undefined;
      }, "the message redelivered");
      expect(again.map((m) => m.messageId)).toEqual([messageId]);
      expect(down.emulator.state.allMessages()).toEqual([]);
    } finally {
      await down.close().catch(() => undefined);
    }
  });

  it("takes no new message once stopping: it hands it straight back", async () => {
    const name = await createPullSubscription(pubsub, "pull-stop", "relay-pull-stop");
    const worker = startWorker(name);
    const { subscription } = running!;
    await stopWorker();
    // A message the client library still delivers after stop(): nacked, never relayed.
    const handed: string[] = [];
    const late = { id: "late-1", data: Buffer.from(JSON.stringify(makeEvent())), nack: () => handed.push("nack"), ack: () => handed.push("ack") };
    subscription.emit("message", late);
    expect(handed).toEqual(["nack"]);
    expect(worker.handling).toBe(0);
  });
});
