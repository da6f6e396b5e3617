import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventDigest } from "../../src/core/eventDigest.ts";
import { QUEUE_REFRESH_MS } from "../../src/observability/queueGauges.ts";
import { makeEvent } from "../helpers/events.ts";
import { parseScrape, type Scrape, sampleValue } from "../helpers/prometheusText.ts";
import { type Harness, startHarness } from "../helpers/relayHarness.ts";

// relay_queue_depth and relay_queue_oldest_age_seconds come from the ledger when Prometheus
// scrapes, through a relay built by the composition root on a fake clock: the clock decides when
// a read is due and how old the oldest notification is.
let h: Harness;
let now = Date.now();
let start = now;
beforeAll(async () => {
  h = await startHarness({ SVIX_MAX_RETRIES: "0", CIRCUIT_FAILURE_THRESHOLD: "1000" }, { clock: { now: () => now } });
  start = now = Date.now();
});
afterAll(() => h.close());

async function scrape(): Promise<Scrape> {
  const res = await h.http.get("/metrics").expect(200);
  return parseScrape(res.text);
}
const depth = (s: Scrape, status: string) => sampleValue(s, "relay_queue_depth", { status });
const oldestAge = (s: Scrape) => sampleValue(s, "relay_queue_oldest_age_seconds");
const failures = (s: Scrape) => sampleValue(s, "relay_queue_depth_read_failures_total");

describe("relay_queue_depth and relay_queue_oldest_age_seconds", () => {
  it("show what waits for the dispatcher, read at most once per refresh window, aged on the relay's clock", async () => {
    const empty = await scrape();
    expect(depth(empty, "queued")).toBe(0);
    expect(depth(empty, "received")).toBe(0);
    expect(oldestAge(empty)).toBe(0);

    // Svix fails: three posts are queued for the dispatcher.
    h.emulator.faults.add({ kind: "status", status: 503, operation: "message.create" });
    for (let i = 0; i < 3; i += 1) {
      const res = await h.http.post("/notifications").send(makeEvent()).expect(202);
      expect(res.body.data.status).toBe("queued");
    }
    // A delivery whose process died (its claim expired a second ago), and one still in flight.
    const claimed = (expiresAt: number) => {
      const event = makeEvent();
      return h.container.store.insert({
        event,
        transport: { kind: "body" },
        payloadDigest: eventDigest(event),
        status: "received",
        claimToken: randomUUID(),
        claimExpiresAt: new Date(expiresAt),
      });
    };
    await claimed(now - 1_000);
    await claimed(now + 30_000);

    // Within the window the last read stands: a flood of scrapes costs the ledger one query.
    now += QUEUE_REFRESH_MS - 1;
    const cached = await scrape();
    expect(depth(cached, "queued")).toBe(0);
    expect(depth(cached, "received")).toBe(0);

    // Ten minutes later: read again, the oldest queued one is ten minutes old.
    now = start + 600_000;
    const later = await scrape();
    expect(depth(later, "queued")).toBe(3);
    // The live claim (30 s) has expired by now too: both are stuck.
    expect(depth(later, "received")).toBe(2);
    // Arrival is stamped by the database a moment after `start`.
    expect(oldestAge(later)).toBeGreaterThan(590);
    expect(oldestAge(later)).toBeLessThanOrEqual(600);
    expect(failures(later)).toBe(0);
    h.emulator.faults.clear();
  });

  it("keep their last values when the ledger cannot be read, count the failure, and never fail the scrape", async () => {
    now += QUEUE_REFRESH_MS;
    const before = await scrape();
    const queued = depth(before, "queued");
    expect(queued).toBe(3);
    await h.container.db.sql.query("ALTER TABLE notifications RENAME TO notifications_away", []);
    try {
      now += QUEUE_REFRESH_MS;
      const during = await scrape();
      expect(depth(during, "queued")).toBe(queued);
      expect(depth(during, "received")).toBe(depth(before, "received"));
      expect(oldestAge(during)).toBe(oldestAge(before));
      expect(failures(during)).toBe(1);
      // Everything else is still there.
      expect(sampleValue(during, "relay_svix_circuit_open")).toBe(0);
      // The failed read is not retried at every scrape either.
      expect(failures(await scrape())).toBe(1);
    } finally {
      await h.container.db.sql.query("ALTER TABLE notifications_away RENAME TO notifications", []);
    }
    now += QUEUE_REFRESH_MS;
    const after = await scrape();
    expect(depth(after, "queued")).toBe(3);
    expect(failures(after)).toBe(1);
  });
});
