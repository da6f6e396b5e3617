import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventDigest } from "../../src/core/eventDigest.ts";
import type { PlatformEvent } from "../../src/core/event.ts";
import { makeEvent } from "../helpers/events.ts";
import { startHarness, type Harness } from "../helpers/relayHarness.ts";

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ SVIX_MAX_RETRIES: "0", CIRCUIT_FAILURE_THRESHOLD: "1000" });
});
afterAll(() => h.close());

/** Inserts settled-looking rows straight into the ledger, with arrival times set apart. */
async function seed(events: PlatformEvent[], base: number, status: "queued" | "received" = "queued") {
  for (const [i, event] of events.entries()) {
    await h.container.store.insert({
      event,
      transport: { kind: "body" },
      payloadDigest: eventDigest(event),
      status,
      nextAttemptAt: new Date(Date.now() + 3_600_000),
    });
    await h.container.db.prisma.notification.update({
      where: { eventId: event.id },
      data: { createdAt: new Date(base + i * 1000) },
    });
  }
}

const list = async (query: Record<string, string | number>) =>
  (await h.http.get("/notifications").query(query).expect(200)).body as {
    data: Array<{ eventId: string }>;
    nextCursor: string | null;
  };

describe("GET /notifications — audit search", () => {
  it("filters by status, project, type and arrival time", async () => {
    const project = "audit-filters";
    const events = [
      makeEvent({ project, type: "user.created" }),
      makeEvent({ project, type: "payment.succeeded" }),
      makeEvent({ project, type: "user.created" }),
    ];
    await seed(events, Date.parse("2026-10-01T00:00:00Z"));
    expect((await list({ project })).data.map((n) => n.eventId)).toEqual([events[2]!.id, events[1]!.id, events[0]!.id]);
    expect((await list({ project, type: "user.created" })).data.map((n) => n.eventId)).toEqual([
      events[2]!.id,
      events[0]!.id,
    ]);
    expect((await list({ project, status: "queued" })).data).toHaveLength(3);
    expect((await list({ project, status: "delivered" })).data).toHaveLength(0);
    const window = await list({ project, since: "2026-10-01T00:00:01Z", until: "2026-10-01T00:00:02Z" });
    expect(window.data.map((n) => n.eventId)).toEqual([events[1]!.id]);
  });

  it("pages with a cursor: every row once, newest first, until nextCursor is null", async () => {
    const project = "audit-pages";
    const events = Array.from({ length: 7 }, () => makeEvent({ project }));
    // Two rows share an arrival time: the event id breaks the tie, so no row is skipped or repeated.
    await seed(events, Date.parse("2026-10-02T00:00:00Z"));
    await h.container.db.prisma.notification.update({
      where: { eventId: events[4]!.id },
      data: { createdAt: new Date(Date.parse("2026-10-02T00:00:03Z")) },
    });
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await list({ project, limit: 3, ...(cursor ? { cursor } : {}) });
      seen.push(...page.data.map((n) => n.eventId));
      cursor = page.nextCursor;
      pages += 1;
    } while (cursor && pages < 10);
    expect(pages).toBe(3);
    expect(seen).toHaveLength(7);
    expect(new Set(seen)).toEqual(new Set(events.map((e) => e.id)));
    const all = (await list({ project, limit: 10 })).data.map((n) => n.eventId);
    expect(seen).toEqual(all);
  });

  it("refuses unknown parameters and foreign cursors instead of ignoring them", async () => {
    const res = await h.http
      .get("/notifications")
      .query({ projet: "typo", cursor: "bm90LWEtY3Vyc29y", since: "yesterday" })
      .expect(400);
    expect(res.body.error.details.map((d: { path: string }) => d.path).sort()).toEqual(["cursor", "projet", "since"]);
  });

  it("names each refused parameter with what it must be, in one 400", async () => {
    const res = await h.http
      .get("/notifications")
      .query({ projet: "typo", status: "lost", since: "yesterday", limit: "1001", cursor: "bm90LWEtY3Vyc29y" })
      .expect(400);
    expect(res.body.error).toMatchObject({ code: "invalid_query", message: "Invalid query parameters" });
    expect(res.body.error.details).toEqual([
      { path: "projet", message: "is not a known parameter (status, project, type, since, until, limit, cursor)" },
      { path: "status", message: "must be one of received, queued, delivered, rejected, failed" },
      { path: "since", message: "must be an ISO 8601 date-time, e.g. 2026-11-30T00:00:00Z" },
      { path: "limit", message: "must be an integer from 1 to 1000" },
      { path: "cursor", message: "is not a cursor this API returned" },
    ]);
  });

  it("takes limits from 1 to 1000 and dates up to 40 characters", async () => {
    await list({ limit: 1 });
    await list({ limit: 1000 });
    const fraction = (digits: number) => `2026-10-01T00:00:00.${"0".repeat(digits)}Z`;
    await list({ since: fraction(19) });
    expect(fraction(19)).toHaveLength(40);
    const tooLong = await h.http
      .get("/notifications")
      .query({ until: fraction(20) })
      .expect(400);
    expect(tooLong.body.error.details).toEqual([
      { path: "until", message: "must be an ISO 8601 date-time, e.g. 2026-11-30T00:00:00Z" },
    ]);
  });

  it("keeps an answer under 1 MB however large its rows, and hands the rest to the next page", async () => {
    const project = `p${"x".repeat(255)}`;
    const events = Array.from({ length: 600 }, (_, i) =>
      makeEvent({ project, id: `evt_${String(i).padStart(4, "0")}_${"i".repeat(240)}`, type: `t.${"y".repeat(250)}` }),
    );
    await seed(events, Date.parse("2026-10-03T00:00:00Z"));
    await h.container.db.prisma.notification.updateMany({
      where: { project },
      data: {
        lastErrorCode: "svix_unavailable",
        lastError: "e".repeat(500),
        subscription: `projects/p/subscriptions/${"s".repeat(230)}`,
        pubsubMessageId: "9".repeat(128),
      },
    });
    const res = await h.http.get("/notifications").query({ project, limit: 1000 }).expect(200);
    expect(Buffer.byteLength(res.text)).toBeLessThan(1_000_000);
    expect(res.body.data.length).toBeGreaterThan(100);
    expect(res.body.data.length).toBeLessThan(600);
    let total = res.body.data.length;
    let cursor = res.body.nextCursor as string | null;
    while (cursor) {
      const page = await h.http.get("/notifications").query({ project, limit: 1000, cursor }).expect(200);
      expect(Buffer.byteLength(page.text)).toBeLessThan(1_000_000);
      total += page.body.data.length;
      cursor = page.body.nextCursor;
    }
    expect(total).toBe(600);
  });
});
