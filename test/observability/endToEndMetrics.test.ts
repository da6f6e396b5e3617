import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeEvent, wrapped } from "../helpers/events.ts";
import { parseScrape, type Scrape, sampleValue } from "../helpers/prometheusText.ts";
import { type Harness, startHarness } from "../helpers/relayHarness.ts";

// relay_end_to_end_seconds: from Pub/Sub's publish time (a direct post's arrival) to Svix
// accepting the message, on the relay's clock — a fake one here, so the seconds are exact.
let h: Harness;
let now = Date.now();
beforeAll(async () => {
  h = await startHarness({ SVIX_MAX_RETRIES: "0", CIRCUIT_FAILURE_THRESHOLD: "1000" }, { clock: { now: () => now } });
  now = Date.now();
});
afterAll(() => h.close());

async function scrape(): Promise<Scrape> {
  return parseScrape((await h.http.get("/metrics").expect(200)).text);
}
const count = (s: Scrape, transport: string) => sampleValue(s, "relay_end_to_end_seconds_count", { transport }) ?? 0;
const sum = (s: Scrape, transport: string) => sampleValue(s, "relay_end_to_end_seconds_sum", { transport }) ?? 0;
const bucket = (s: Scrape, transport: string, le: string) =>
  sampleValue(s, "relay_end_to_end_seconds_bucket", { transport, le });

describe("relay_end_to_end_seconds", () => {
  it("measures a push from its publishTime, once: a redelivery of it is not observed again", async () => {
    const event = makeEvent();
    const envelope = wrapped(event);
    envelope.message.publishTime = new Date(now - 2_500).toISOString();
    expect((await h.http.post("/notifications").send(envelope).expect(200)).body.data.status).toBe("accepted");
    await h.settle();
    const first = await scrape();
    expect(count(first, "push")).toBe(1);
    expect(sum(first, "push")).toBeCloseTo(2.5, 6);
    expect(bucket(first, "push", "1")).toBe(0);
    expect(bucket(first, "push", "5")).toBe(1);

    now += 60_000;
    const again = await h.http.post("/notifications").send(envelope).expect(200);
    expect(again.body.data.duplicate).toBe(true);
    expect(count(await scrape(), "push")).toBe(1);
  });

  it("measures a pulled message from its publishTime", async () => {
    const event = makeEvent();
    const result = await h.container.ingest.accept({
      body: Buffer.from(JSON.stringify(event)),
      pulled: {
        kind: "pull",
        pubsubMessageId: "4242",
        subscription: "projects/gigs-prod/subscriptions/relay-pull",
        publishTime: new Date(now - 4_000).toISOString(),
      },
    });
    expect(result.outcome.status).toBe("accepted");
    await h.settle();
    const s = await scrape();
    expect(count(s, "pull")).toBe(1);
    expect(sum(s, "pull")).toBeCloseTo(4, 6);
  });

  it("measures a direct post from its arrival, also when the dispatcher delivers it minutes later", async () => {
    // The dispatcher reads the arrival the database stamped: the relay's clock starts level with it.
    now = Date.now();
    await h.http.post("/notifications").send(makeEvent()).expect(200);
    const atOnce = await scrape();
    expect(count(atOnce, "body")).toBe(1);
    expect(sum(atOnce, "body")).toBe(0);

    // Svix fails: queued, not observed (Svix has not accepted it)…
    h.emulator.faults.add({ kind: "status", status: 503, operation: "message.create" });
    const arrivedAt = now;
    expect((await h.http.post("/notifications").send(makeEvent()).expect(202)).body.data.status).toBe("queued");
    expect(count(await scrape(), "body")).toBe(1);
    // …until the dispatcher delivers it, 90 s later on the relay's clock.
    h.emulator.faults.clear();
    now += 90_000;
    expect(await h.container.dispatcher.pass()).toMatchObject({ claimed: 1, delivered: 1 });
    const later = await scrape();
    expect(count(later, "body")).toBe(2);
    // The row's arrival is a moment after arrivedAt.
    const seconds = sum(later, "body");
    expect(seconds).toBeGreaterThan(85);
    expect(seconds).toBeLessThanOrEqual((now - arrivedAt) / 1000);
    expect(bucket(later, "body", "60")).toBe(1);
    expect(bucket(later, "body", "120")).toBe(2);
  });
});
