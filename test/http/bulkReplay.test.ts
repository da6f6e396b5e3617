// Bulk replay (POST /notifications/replay and the dashboard's "Replay all failed"): which
// notifications a filter picks, in what order they go, and how each one's end is counted.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { AppError } from "../../src/errors.ts";
import { parseReplayFilter, replayMany, type ReplayFilter } from "../../src/core/bulkReplay.ts";
import type { PlatformEvent } from "../../src/core/event.ts";
import { makeEvent } from "../helpers/events.ts";
import { startHarness, type Harness } from "../helpers/relayHarness.ts";

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ SVIX_MAX_RETRIES: "0", CIRCUIT_FAILURE_THRESHOLD: "1000" });
});
afterAll(() => h.close());
beforeEach(() => h.emulator.reset());

const MINUTE = 60_000;
// Recent enough to be inside the retry horizon (72 h): a failed replay leaves it queued.
const T0 = Date.now() - 3_600_000;
/** Relays an event Svix refuses (rejected) or fails (queued), arrived at T0 + minute minutes. */
async function seed(
  status: "rejected" | "queued",
  minute: number,
  overrides: Partial<PlatformEvent> = {},
): Promise<string> {
  h.emulator.faults.add({
    kind: "status",
    status: status === "rejected" ? 400 : 503,
    operation: "message.create",
    times: 1,
  });
  const event = makeEvent(overrides);
  expect((await h.container.service.relay(event, { kind: "body" })).status).toBe(status);
  await h.container.db.prisma.notification.update({
    where: { eventId: event.id },
    data: { createdAt: new Date(T0 + minute * MINUTE) },
  });
  return event.id;
}
const replay = (filter: Partial<ReplayFilter>) =>
  replayMany(h.container.service, h.container.store, { status: "rejected", limit: 100, ...filter });
const sentIds = () => h.emulator.state.allMessages().map((m) => m.eventId);

describe("parseReplayFilter", () => {
  it("reads a full filter, and defaults the limit to 100", () => {
    expect(
      parseReplayFilter({
        status: "failed",
        project: "p-1",
        type: "user.created",
        since: "2026-11-01T00:00:00Z",
        until: "2026-11-02T00:00:00.000Z",
        limit: 1000,
      }),
    ).toEqual({
      status: "failed",
      project: "p-1",
      type: "user.created",
      since: new Date("2026-11-01T00:00:00Z"),
      until: new Date("2026-11-02T00:00:00Z"),
      limit: 1000,
    });
    expect(parseReplayFilter({ status: "queued" })).toEqual({
      status: "queued",
      project: undefined,
      type: undefined,
      since: undefined,
      until: undefined,
      limit: 100,
    });
    expect(parseReplayFilter({ status: "rejected", limit: 1 }).limit).toBe(1);
  });

  const details = (body: unknown): Array<{ path: string; message: string }> => {
    try {
      parseReplayFilter(body);
    } catch (error) {
      expect(error).toBeInstanceOf(AppError);
      expect(error).toMatchObject({ code: "invalid_request", message: "Invalid replay filter" });
      return (error as AppError).details!;
    }
    throw new Error("accepted");
  };

  it("names every problem, each with its path and what it must be", () => {
    expect(
      details({
        status: "delivered",
        project: "",
        type: "x".repeat(257),
        since: "yesterday",
        until: 5,
        limit: 0,
        projet: "p",
      }),
    ).toEqual([
      { path: "/projet", message: "is not a known field" },
      { path: "/status", message: "must be one of failed, rejected, queued" },
      { path: "/project", message: "must be 1 to 256 characters" },
      { path: "/type", message: "must be 1 to 256 characters" },
      { path: "/since", message: "must be an ISO 8601 date-time" },
      { path: "/until", message: "must be an ISO 8601 date-time" },
      { path: "/limit", message: "must be an integer from 1 to 1000" },
    ]);
    expect(details({ status: "failed", project: 7, limit: 1001 }).map((d) => d.path)).toEqual(["/project", "/limit"]);
    expect(details({ status: "failed", limit: 2.5 }).map((d) => d.path)).toEqual(["/limit"]);
    expect(details({ status: "failed", limit: "10" }).map((d) => d.path)).toEqual(["/limit"]);
  });

  it("takes a body that is not an object as an empty filter: only the status is missing", () => {
    for (const body of [null, undefined, "status=failed", ["failed"], 3])
      expect(details(body)).toEqual([{ path: "/status", message: "must be one of failed, rejected, queued" }]);
  });
});

describe("replayMany", () => {
  it("takes the newest matches up to the limit and sends them oldest first", async () => {
    const project = "bulk-order";
    const ids = [
      await seed("rejected", 3, { project }),
      await seed("rejected", 1, { project }),
      await seed("rejected", 2, { project }),
    ];
    const summary = await replay({ project, limit: 2 });
    // Arrived at minutes 1, 2, 3: the newest two (2, 3) go, oldest first.
    expect(summary.results).toEqual([
      { eventId: ids[2], status: "delivered" },
      { eventId: ids[0], status: "delivered" },
    ]);
    expect(summary).toMatchObject({ matched: 2, delivered: 2, stillFailing: 0 });
    expect(sentIds()).toEqual([ids[2], ids[0]]);
  });

  it("replays only what the filter names: status, project, type and the time window", async () => {
    const project = "bulk-filter";
    const inside = await seed("rejected", 10, { project, type: "user.updated" });
    await seed("queued", 10, { project, type: "user.updated" }); // another status
    await seed("rejected", 10, { project: "bulk-other", type: "user.updated" }); // another project
    await seed("rejected", 10, { project, type: "user.deleted" }); // another type
    await seed("rejected", 5, { project, type: "user.updated" }); // too early
    await seed("rejected", 15, { project, type: "user.updated" }); // too late
    const summary = await replay({
      project,
      type: "user.updated",
      since: new Date(T0 + 8 * MINUTE),
      until: new Date(T0 + 12 * MINUTE),
    });
    expect(summary.results).toEqual([{ eventId: inside, status: "delivered" }]);
    expect(sentIds()).toEqual([inside]);
  });

  it("counts what Svix still refuses or fails, and leaves each where it belongs", async () => {
    const project = "bulk-failing";
    const rejected = await seed("rejected", 1, { project });
    const queued = await seed("queued", 2, { project });
    h.emulator.faults.add({ kind: "status", status: 400, operation: "message.create", times: 1 });
    expect(await replay({ project })).toEqual({
      matched: 1,
      delivered: 0,
      stillFailing: 1,
      skippedDelivered: 0,
      skippedInFlight: 0,
      skippedPurged: 0,
      results: [{ eventId: rejected, status: "rejected" }],
    });
    h.emulator.faults.add({ kind: "status", status: 503, operation: "message.create", times: 1 });
    expect(await replay({ project, status: "queued" })).toMatchObject({
      matched: 1,
      delivered: 0,
      stillFailing: 1,
      results: [{ eventId: queued, status: "queued" }],
    });
    expect(sentIds()).toEqual([]);
  });

  it("skips, and says so, what was delivered or taken meanwhile and what has no payload any more", async () => {
    const project = "bulk-skips";
    const slow = await seed("rejected", 1, { project });
    const deliveredMeanwhile = await seed("rejected", 2, { project });
    const takenMeanwhile = await seed("rejected", 3, { project });
    const erased = await seed("rejected", 4, { project });
    await h.container.db.prisma.notification.update({
      where: { eventId: erased },
      data: { payload: null, payloadPurgedAt: new Date() } as never,
    });
    // The first replay takes a while; meanwhile one is delivered by someone else and one is claimed.
    h.emulator.faults.add({ kind: "latency", minMs: 1500, maxMs: 1500, operation: "message.create", times: 1 });
    const running = replay({ project });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await h.container.service.replay(deliveredMeanwhile)).status).toBe("delivered");
    expect(
      await h.container.store.claimForReplay(
        takenMeanwhile,
        { token: "someone-else", expiresAt: new Date(Date.now() + 60_000) },
        new Date(),
      ),
    ).toBe(true);
    const summary = await running;
    expect(summary).toEqual({
      matched: 4,
      delivered: 1,
      stillFailing: 0,
      skippedDelivered: 1,
      skippedInFlight: 1,
      skippedPurged: 1,
      results: [
        { eventId: slow, status: "delivered" },
        { eventId: deliveredMeanwhile, status: "already_delivered" },
        { eventId: takenMeanwhile, status: "event_in_flight" },
        { eventId: erased, status: "payload_purged" },
      ],
    });
    expect(sentIds().sort()).toEqual([slow, deliveredMeanwhile].sort());
  });

  it("stops on a failure it cannot count: the ledger going away mid-replay", async () => {
    const spare = await startHarness({ SVIX_MAX_RETRIES: "0" }, { emulator: h.emulator });
    try {
      h.emulator.faults.add({ kind: "status", status: 400, operation: "message.create", times: 1 });
      const event = makeEvent({ project: "bulk-ledger" });
      await spare.container.service.relay(event, { kind: "body" });
      h.emulator.faults.add({ kind: "latency", minMs: 1500, maxMs: 1500, operation: "message.create", times: 1 });
      const running = replayMany(spare.container.service, spare.container.store, { status: "rejected", limit: 10 });
      await new Promise((resolve) => setTimeout(resolve, 300));
      await spare.container.db.close();
      await expect(running).rejects.toMatchObject({ code: "database_unavailable" });
    } finally {
      await spare.close().catch(() => undefined);
    }
  });
});
