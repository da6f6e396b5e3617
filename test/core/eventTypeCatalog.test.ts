import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { SvixEmulator } from "../../src/emulator/svixEmulator.ts";
import { createMetrics } from "../../src/observability/metrics.ts";
import { SdkSvixGateway } from "../../src/svix/svixGateway.ts";
import { makeEvent } from "../helpers/events.ts";
import { startHarness } from "../helpers/relayHarness.ts";
import { describeEventType, EventTypeCatalog } from "../../src/core/eventTypeCatalog.ts";
import { captureLogs } from "../helpers/capturedLogs.ts";

// The catalog against the real Svix gateway (svix SDK over HTTP) and the Svix emulator: what it
// upserts, when it calls Svix at all, what it remembers, and what it logs when Svix fails.
let emulator: SvixEmulator;
let gateway: SdkSvixGateway;
beforeAll(async () => {
  emulator = new SvixEmulator({ apiKey: "k" });
  gateway = new SdkSvixGateway({
    apiKey: "k",
    serverUrl: await emulator.start(),
    requestTimeoutMs: 30_000,
    metrics: createMetrics(),
  });
});
afterAll(() => emulator.stop());
beforeEach(() => emulator.reset());

/** A catalog on the real gateway and a real logger whose lines are kept, parsed. */
function catalog() {
  const { logger, records } = captureLogs("debug");
  return { catalog: new EventTypeCatalog({ svix: gateway, logger }), logs: records };
}

/** The event types the catalog asked Svix to create (one HTTP call each), in order. */
const upserts = () =>
  emulator.calls
    .filter((c) => c.operation === "eventType.create")
    .map((c) => c.idempotencyKey?.replace("gigs-relay-type-", ""));

describe("describeEventType: the description customers see in the app portal", () => {
  it("turns a dotted type into words between 'Gigs' and 'event'", () => {
    expect(describeEventType("subscription.activated")).toBe("Gigs subscription activated event");
  });

  it("splits on dots, underscores and dashes alike, runs of them counting as one", () => {
    expect(describeEventType("porting.sim-swap_completed")).toBe("Gigs porting sim swap completed event");
    expect(describeEventType("a..b__c--d._-e")).toBe("Gigs a b c d e event");
  });

  it("drops the empty words of leading and trailing separators", () => {
    expect(describeEventType("._user.created_-")).toBe("Gigs user created event");
  });

  it("keeps a type without separators as one word", () => {
    expect(describeEventType("ping")).toBe("Gigs ping event");
  });

  it("cuts the description to Svix's 256 characters", () => {
    const longest = "a".repeat(256);
    expect(describeEventType(longest)).toBe(`Gigs ${longest} event`.slice(0, 256));
    expect(describeEventType(longest)).toHaveLength(256);
    // "Gigs " + 245 + " event" is 256 characters: kept whole; one more and the last is cut.
    expect(describeEventType("a".repeat(245))).toBe(`Gigs ${"a".repeat(245)} event`);
    expect(describeEventType("a".repeat(246))).toBe(`Gigs ${"a".repeat(246)} even`);
  });
});

describe("EventTypeCatalog.seen: Svix's event-type catalog kept in step", () => {
  it("upserts a new type in Svix with its name and description, once settled", async () => {
    const { catalog: c, logs } = catalog();
    c.seen("subscription.activated");
    await c.settle();
    expect(emulator.state.eventTypes.get("subscription.activated")).toMatchObject({
      name: "subscription.activated",
      description: "Gigs subscription activated event",
    });
    expect(upserts()).toEqual(["subscription.activated"]);
    expect(emulator.calls.filter((call) => call.operation === "eventType.create").map((call) => call.status)).toEqual([
      201,
    ]);
    expect(logs).toEqual([]);
  });

  it("runs in the background: seen() returns before Svix answered, settle() waits for the answer", async () => {
    const { catalog: c } = catalog();
    expect(c.seen("user.created")).toBeUndefined();
    expect(emulator.state.eventTypes.has("user.created")).toBe(false);
    await c.settle();
    expect(emulator.state.eventTypes.has("user.created")).toBe(true);
  });

  it("settle() waits for every upsert under way, not just one", async () => {
    const { catalog: c } = catalog();
    for (const type of ["a.one", "b.two", "c.three"]) c.seen(type);
    await c.settle();
    expect([...emulator.state.eventTypes.keys()].sort()).toEqual(["a.one", "b.two", "c.three"]);
  });

  it("settle() with nothing under way resolves at once", async () => {
    const { catalog: c } = catalog();
    await expect(c.settle()).resolves.toBeUndefined();
    expect(upserts()).toEqual([]);
  });

  it("calls Svix once for a type seen again while its upsert is under way", async () => {
    const { catalog: c } = catalog();
    c.seen("user.created");
    c.seen("user.created");
    c.seen("user.created");
    await c.settle();
    expect(upserts()).toEqual(["user.created"]);
  });

  it("does not call Svix again for a type it already added", async () => {
    const { catalog: c } = catalog();
    c.seen("user.created");
    await c.settle();
    c.seen("user.created");
    await c.settle();
    expect(upserts()).toEqual(["user.created"]);
  });

  it("remembers every type it added, not only the last one", async () => {
    const { catalog: c } = catalog();
    c.seen("a.one");
    await c.settle();
    c.seen("b.two");
    await c.settle();
    c.seen("a.one");
    c.seen("b.two");
    await c.settle();
    expect(upserts()).toEqual(["a.one", "b.two"]);
  });

  it("counts a type Svix already had (409) as added: no warning, no second call", async () => {
    emulator.state.eventTypes.set("user.created", {
      name: "user.created",
      description: "set by hand",
      createdAt: new Date().toISOString(),
    });
    const { catalog: c, logs } = catalog();
    c.seen("user.created");
    await c.settle();
    expect(emulator.calls.filter((call) => call.operation === "eventType.create").map((call) => call.status)).toEqual([
      409,
    ]);
    expect(emulator.state.eventTypes.get("user.created")?.description).toBe("set by hand");
    c.seen("user.created");
    await c.settle();
    expect(upserts()).toEqual(["user.created"]);
    expect(logs).toEqual([]);
  });

  it.each([
    ["an empty type", ""],
    ["a space", "user created"],
    ["a slash", "user/created"],
    ["a colon", "user:created"],
    ["a non-ASCII letter", "usér.created"],
    ["257 characters", "a".repeat(257)],
    ["a trailing newline", "user.created\n"],
  ])("never calls Svix for a type Svix could not take (%s), nor logs", async (_what, type) => {
    const { catalog: c, logs } = catalog();
    c.seen(type);
    await c.settle();
    expect(emulator.calls).toEqual([]);
    expect(logs).toEqual([]);
  });

  it("takes every character Svix takes ([a-zA-Z0-9-_.]) and 256 of them", async () => {
    const { catalog: c, logs } = catalog();
    const types = ["AZaz09-_.", "a".repeat(256), "x"];
    for (const type of types) c.seen(type);
    await c.settle();
    expect(upserts().sort()).toEqual([...types].sort());
    expect([...emulator.state.eventTypes.keys()].sort()).toEqual([...types].sort());
    expect(logs).toEqual([]);
  });

  it("does not fail when Svix fails: logs one warning naming the type and the error, and settle() still resolves", async () => {
    emulator.faults.add({ operation: "eventType.create", kind: "status", status: 503, times: 1 });
    const { catalog: c, logs } = catalog();
    expect(() => c.seen("user.created")).not.toThrow();
    await expect(c.settle()).resolves.toBeUndefined();
    expect(emulator.state.eventTypes.has("user.created")).toBe(false);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatchObject({
      severity: "WARNING",
      level: "warn",
      eventType: "user.created",
      err: { type: "AppError", code: "svix_unavailable", message: "Svix answered 503" },
      message: "could not add the event type to Svix's catalog; trying again on its next event",
    });
  });

  it("logs a type Svix refused (422) the same way", async () => {
    emulator.faults.add({ operation: "eventType.create", kind: "status", status: 422, times: 1 });
    const { catalog: c, logs } = catalog();
    c.seen("user.created");
    await c.settle();
    expect(logs).toEqual([
      expect.objectContaining({
        level: "warn",
        eventType: "user.created",
        err: expect.objectContaining({ code: "svix_rejected" }),
      }),
    ]);
  });

  it("tries again on the type's next event after Svix failed, and then remembers it", async () => {
    emulator.faults.add({ operation: "eventType.create", kind: "status", status: 500, times: 1 });
    const { catalog: c, logs } = catalog();
    c.seen("user.created");
    await c.settle();
    expect(emulator.state.eventTypes.has("user.created")).toBe(false);
    c.seen("user.created");
    await c.settle();
    expect(emulator.state.eventTypes.get("user.created")).toMatchObject({ description: "Gigs user created event" });
    c.seen("user.created");
    await c.settle();
    expect(upserts()).toEqual(["user.created", "user.created"]);
    expect(logs).toHaveLength(1);
  });

  it("a failure of one type does not stop the others", async () => {
    emulator.faults.add({ operation: "eventType.create", kind: "reset", times: 1 });
    const { catalog: c, logs } = catalog();
    c.seen("a.one");
    await c.settle();
    c.seen("b.two");
    await c.settle();
    expect([...emulator.state.eventTypes.keys()]).toEqual(["b.two"]);
    expect(logs).toEqual([
      expect.objectContaining({ eventType: "a.one", err: expect.objectContaining({ code: "svix_unavailable" }) }),
    ]);
  });

  it("is bounded: remembers 10,000 types, and forgets them all when the 10,001st is added (one idempotent call each again)", async () => {
    const { catalog: c, logs } = catalog();
    const types = Array.from({ length: 10_000 }, (_, i) => `bulk.type-${i}`);
    // In batches: 10,000 concurrent calls would be a load test of the emulator, not of the catalog.
    for (let i = 0; i < types.length; i += 500) {
      for (const type of types.slice(i, i + 500)) c.seen(type);
      await c.settle();
    }
    expect(upserts()).toHaveLength(10_000);
    // All 10,000 remembered: none is asked for again.
    c.seen(types[0]!);
    c.seen(types[9_999]!);
    await c.settle();
    expect(upserts()).toHaveLength(10_000);
    // The 10,001st: memory is cleared first, then it is remembered.
    c.seen("bulk.type-10000");
    await c.settle();
    c.seen("bulk.type-10000");
    await c.settle();
    expect(upserts()).toHaveLength(10_001);
    // Forgotten: asked for again (Svix answers as before: the call is idempotent).
    c.seen(types[0]!);
    await c.settle();
    expect(upserts()).toHaveLength(10_002);
    expect(upserts().at(-1)).toBe(types[0]);
    expect(logs).toEqual([]);
  }, 120_000);
});

describe("the relay keeps Svix's catalog in step (EVENT_TYPE_CATALOG)", () => {
  it("adds the type of a delivered event to Svix's catalog, once however many of its events are delivered", async () => {
    const h = await startHarness({ EVENT_TYPE_CATALOG: "true", API_TOKENS: "operator-token-0123456789" });
    try {
      expect(h.container.eventTypes).toBeInstanceOf(EventTypeCatalog);
      for (let i = 0; i < 3; i += 1) {
        await h.http
          .post("/notifications")
          .set({ authorization: "Bearer operator-token-0123456789" })
          .send(makeEvent({ type: "sim.activated" }))
          .expect(200);
      }
      // seen() ran before each answer; settle() waits for the upsert it started.
      await h.container.eventTypes!.settle();
      expect(h.emulator.state.eventTypes.get("sim.activated")).toMatchObject({
        name: "sim.activated",
        description: "Gigs sim activated event",
      });
      expect(h.emulator.calls.filter((c) => c.operation === "eventType.create")).toHaveLength(1);
    } finally {
      await h.close();
    }
  });
});
