import type { Subscription } from "@google-cloud/pubsub";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { PullWorker } from "../../src/pubsub/pullWorker.ts";
import { makeEvent } from "../helpers/events.ts";
import {
  createPullSubscription,
  publish,
  pullAndAck,
  startPubsubEmulator,
  type PubsubEmulator,
} from "../helpers/pubsubEmulator.ts";
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
  const subscription = pubsub
    .client()
    .subscription(name, { flowControl: { maxMessages: 8, allowExcessMessages: false } });
  const worker = new PullWorker({
    subscription,
    subscriptionName: name,
    ingest: harness.container.ingest,
    logger: harness.container.logger,
    metrics: harness.container.metrics,
  });
  worker.start();
  running = { worker, subscription };
  return worker;
}

const pulledCount = async (result: string, status: string) =>
  (await h.container.metrics.pulled.get()).values.find((v) => v.labels.result === result && v.labels.status === status)
    ?.value ?? 0;

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
    await waitForValue(
      // Acknowledged once the ledger owned it (accepted), the Svix call after.
      async () => ((await pulledCount("acked", "accepted")) >= 1 ? true : undefined),
      "the ack counted",
    );
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
    const entry = await waitForValue(
      async () =>
        (await h.container.quarantine.list({ limit: 50 })).find((q) => q.transport.pubsubMessageId === messageId),
      "the quarantine entry",
    );
    expect(entry).toMatchObject({ reason: "invalid_json", transport: { kind: "pull", subscription: name } });
    await waitForValue(
      async () => ((await pulledCount("acked", "quarantined")) >= 1 ? true : undefined),
      "the ack counted",
    );
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
      const nacked = async () =>
        (await down.container.metrics.pulled.get()).values.find((v) => v.labels.result === "nacked")?.labels.status;
      const _worker = startWorker(name, down);
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

  it("says which subscription it pulls from, and logs a stream error without stopping", async () => {
    const name = await createPullSubscription(pubsub, "pull-log", "relay-pull-log");
    startWorker(name);
    expect(h.logs.filter((l) => l.message === "pulling from Pub/Sub" && l.subscription === name)).toHaveLength(1);
    running!.subscription.emit("error", new Error("stream reset by peer"));
    const logged = h.logs.filter((l) => l.message === "Pub/Sub subscription error");
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({
      level: "error",
      err: expect.objectContaining({ message: "stream reset by peer" }),
    });
    // Still pulling: the library reconnects by itself.
    const event = makeEvent();
    await publish(pubsub, "pull-log", JSON.stringify(event));
    await waitForValue(
      async () => ((await h.container.store.summary(event.id))?.status === "delivered" ? true : undefined),
      "the event delivered after the error",
    );
  });

  it("stop() waits for the messages in hand: each is acknowledged before it returns", async () => {
    const name = await createPullSubscription(pubsub, "pull-drain", "relay-pull-drain");
    const worker = startWorker(name);
    h.emulator.faults.add({ kind: "latency", minMs: 800, maxMs: 800, operation: "message.create", times: 1 });
    try {
      const handed: string[] = [];
      const event = makeEvent();
      running!.subscription.emit("message", {
        id: "drain-1",
        data: Buffer.from(JSON.stringify(event)),
        nack: () => handed.push("nack"),
        ack: () => handed.push("ack"),
      });
      expect(worker.handling).toBe(1);
      await stopWorker();
      expect(handed).toEqual(["ack"]);
      expect(worker.handling).toBe(0);
      await h.settle();
      expect((await h.container.store.summary(event.id))?.status).toBe("delivered");
    } finally {
      h.emulator.faults.clear();
    }
  });

  it("nacks at once what it could not record, saying why without the payload; an unexpected failure is logged as one", async () => {
    const down = await startHarness();
    try {
      await down.container.db.close();
      const name = await createPullSubscription(pubsub, "pull-down-fake", "relay-pull-down-fake");
      startWorker(name, down);
      const { subscription } = running!;
      const handed: string[] = [];
      const event = makeEvent();
      subscription.emit("message", {
        id: "down-1",
        data: Buffer.from(JSON.stringify(event)),
        nack: () => handed.push("nack"),
        ack: () => handed.push("ack"),
      });
      await waitForValue(() => (handed.length > 0 ? true : undefined), "an answer to Pub/Sub");
      expect(handed).toEqual(["nack"]);
      const warned = down.logs.filter((l) => l.message === "pulled message not recorded; nacked for redelivery");
      expect(warned).toEqual([
        expect.objectContaining({ level: "warn", code: "database_unavailable", pubsubMessageId: "down-1" }),
      ]);
      // A message the library hands over broken (its data cannot be read): nacked, counted and logged as unexpected.
      const broken = { id: "broken-1", nack: () => handed.push("nack"), ack: () => handed.push("ack") };
      Object.defineProperty(broken, "data", {
        get: () => {
          throw new TypeError("detached buffer");
        },
      });
      subscription.emit("message", broken);
      await waitForValue(() => (handed.length > 1 ? true : undefined), "an answer to Pub/Sub");
      expect(handed).toEqual(["nack", "nack"]);
      const unexpected = down.logs.filter((l) => l.message === "pulled message failed unexpectedly");
      expect(unexpected).toEqual([
        expect.objectContaining({
          level: "error",
          pubsubMessageId: "broken-1",
          err: expect.objectContaining({ message: "detached buffer" }),
        }),
      ]);
      const nacked = (await down.container.metrics.pulled.get()).values
        .filter((v) => v.labels.result === "nacked")
        .map((v) => [v.labels.status, v.value]);
      expect(nacked).toEqual(
        expect.arrayContaining([
          ["database_unavailable", 1],
          ["internal", 1],
        ]),
      );
      expect(JSON.stringify(down.logs)).not.toContain("jane.doe@example.com");
    } finally {
      await stopWorker();
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
    const late = {
      id: "late-1",
      data: Buffer.from(JSON.stringify(makeEvent())),
      nack: () => handed.push("nack"),
      ack: () => handed.push("ack"),
    };
    subscription.emit("message", late);
    expect(handed).toEqual(["nack"]);
    expect(worker.handling).toBe(0);
  });
});
