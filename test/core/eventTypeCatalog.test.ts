import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DeclaredEventTypes, type EventTypeDeclaration } from "../../src/core/declaredEventTypes.ts";
import { EventTypeCatalog, svixDefinitionOf } from "../../src/core/eventTypeCatalog.ts";
import { SvixEmulator } from "../../src/emulator/svixEmulator.ts";
import { createMetrics } from "../../src/observability/metrics.ts";
import { SdkSvixGateway } from "../../src/svix/svixGateway.ts";
import { captureLogs } from "../helpers/capturedLogs.ts";

// The catalog against the real Svix gateway (svix SDK over HTTP) and the Svix emulator: which
// types it writes to Svix (declared ones only), what it writes, when it calls Svix at all, what
// it remembers, and what it logs when Svix fails.
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

const DATA_SCHEMA = { type: "object", required: ["id"], properties: { id: { type: "string" } } };
const EXAMPLE = { object: "event", id: "evt_1", type: "user.created", data: { id: "usr_1" } };
const DECLARED: EventTypeDeclaration[] = [
  { name: "user.created", description: "A user was created.", dataSchema: DATA_SCHEMA, example: EXAMPLE },
  { name: "user.deleted", description: "A user was deleted." },
  { name: "a.one", description: "One." },
  { name: "b.two", description: "Two.", dataSchema: DATA_SCHEMA },
];

/** A catalog of DECLARED on the real gateway, and a real logger whose lines are kept, parsed. */
function catalog(declared: EventTypeDeclaration[] = DECLARED) {
  const { logger, records } = captureLogs("debug");
  const types = new DeclaredEventTypes({ declared, undeclared: "deliver", logger, metrics: createMetrics() });
  return { catalog: new EventTypeCatalog({ svix: gateway, declared: types, logger }), logs: records };
}

/** The event types the catalog wrote to Svix (one PUT each), in order. */
const writes = () =>
  emulator.calls.filter((c) => c.operation === "eventType.upsert").map((c) => c.path.split("/").pop());
const reads = () => emulator.calls.filter((c) => c.operation === "eventType.get").length;

describe("svixDefinitionOf: a declaration as Svix's catalog holds it", () => {
  it("carries the description alone when the declaration has no schema and no example", () => {
    expect(svixDefinitionOf({ name: "user.deleted", description: "A user was deleted." })).toEqual({
      name: "user.deleted",
      description: "A user was deleted.",
      schemas: null,
    });
  });

  it("puts the data schema and the example in a JSON Schema of the payload, version 1", () => {
    expect(svixDefinitionOf(DECLARED[0]!).schemas).toEqual({
      "1": {
        title: "user.created",
        description: "A user was created.",
        type: "object",
        properties: { type: { const: "user.created" }, data: DATA_SCHEMA },
        required: ["type", "data"],
        examples: [EXAMPLE],
      },
    });
  });

  it("takes an example without a data schema (data: any object), and a schema without an example", () => {
    const onlyExample = svixDefinitionOf({ name: "x", description: "d", example: EXAMPLE }).schemas!["1"]!;
    expect(onlyExample.properties).toEqual({ type: { const: "x" }, data: { type: "object" } });
    expect(onlyExample.examples).toEqual([EXAMPLE]);
    const onlySchema = svixDefinitionOf({ name: "x", description: "d", dataSchema: DATA_SCHEMA }).schemas!["1"]!;
    expect(onlySchema).not.toHaveProperty("examples");
  });
});

describe("EventTypeCatalog.seen: Svix's catalog holds the declared types, and nothing else", () => {
  it("writes a declared type with its description and schema, found in Svix's list", async () => {
    const { catalog: c, logs } = catalog();
    c.seen("user.created");
    await c.settle();
    const listed = await fetch(`${emulator.url}/api/v1/event-type?with_content=true`, {
      headers: { authorization: "Bearer k" },
    }).then((r) => r.json() as Promise<{ data: Array<Record<string, unknown>> }>);
    expect(listed.data).toEqual([
      expect.objectContaining({
        name: "user.created",
        description: "A user was created.",
        schemas: svixDefinitionOf(DECLARED[0]!).schemas,
      }),
    ]);
    expect(writes()).toEqual(["user.created"]);
    expect(logs).toEqual([expect.objectContaining({ level: "info", eventType: "user.created", change: "created" })]);
  });

  it.each([
    ["any made-up type", "contact.evil-example.com"],
    ["a type Svix could not take", "user/created"],
    ["an empty type", ""],
    ["dots", ".."],
  ])("never calls Svix for an undeclared type (%s), nor logs", async (_what, type) => {
    const { catalog: c, logs } = catalog();
    c.seen(type);
    await c.settle();
    expect(emulator.calls).toEqual([]);
    expect(emulator.state.eventTypes.size).toBe(0);
    expect(logs).toEqual([]);
  });

  it("runs in the background: seen() returns before Svix answered, settle() waits for the answer", async () => {
    const { catalog: c } = catalog();
    expect(c.seen("user.created")).toBeUndefined();
    expect(emulator.state.eventTypes.has("user.created")).toBe(false);
    await c.settle();
    expect(emulator.state.eventTypes.has("user.created")).toBe(true);
  });

  it("settle() waits for every upsert under way, and resolves at once with none", async () => {
    const { catalog: c } = catalog();
    await expect(c.settle()).resolves.toBeUndefined();
    for (const type of ["a.one", "b.two", "user.deleted"]) c.seen(type);
    await c.settle();
    expect([...emulator.state.eventTypes.keys()].sort()).toEqual(["a.one", "b.two", "user.deleted"]);
  });

  it("reads and writes once per type: again while under way, again after, mixed with others", async () => {
    const { catalog: c } = catalog();
    c.seen("a.one");
    c.seen("a.one");
    c.seen("a.one");
    await c.settle();
    c.seen("b.two");
    await c.settle();
    c.seen("a.one");
    c.seen("b.two");
    await c.settle();
    expect(writes()).toEqual(["a.one", "b.two"]);
    expect(reads()).toBe(2);
  });

  it("only reads a type Svix already holds as declared (another instance wrote it): no write, no log", async () => {
    emulator.state.putEventType(svixDefinitionOf(DECLARED[0]!));
    const { catalog: c, logs } = catalog();
    c.seen("user.created");
    await c.settle();
    expect(reads()).toBe(1);
    expect(writes()).toEqual([]);
    expect(logs).toEqual([]);
  });

  it("updates a type Svix holds with an older description or schema, and says so once", async () => {
    emulator.state.putEventType({ name: "user.created", description: "Gigs user created event" });
    const { catalog: c, logs } = catalog();
    c.seen("user.created");
    await c.settle();
    expect(emulator.state.eventTypes.get("user.created")).toMatchObject({
      description: "A user was created.",
      schemas: svixDefinitionOf(DECLARED[0]!).schemas,
    });
    expect(logs).toEqual([expect.objectContaining({ eventType: "user.created", change: "updated" })]);
  });

  it("does not fail when Svix fails: one warning naming the type and the error, settle() still resolves", async () => {
    emulator.faults.add({ operation: "eventType.get", kind: "status", status: 503, times: 1 });
    const { catalog: c, logs } = catalog();
    expect(() => c.seen("user.created")).not.toThrow();
    await expect(c.settle()).resolves.toBeUndefined();
    expect(emulator.state.eventTypes.has("user.created")).toBe(false);
    expect(logs).toEqual([
      expect.objectContaining({
        severity: "WARNING",
        level: "warn",
        eventType: "user.created",
        err: expect.objectContaining({ type: "AppError", code: "svix_unavailable", message: "Svix answered 503" }),
        message: "could not set the event type in Svix's catalog; trying again on its next event",
      }),
    ]);
  });

  it("tries again on the type's next event after Svix refused the write, and then remembers it", async () => {
    emulator.faults.add({ operation: "eventType.upsert", kind: "status", status: 422, times: 1 });
    const { catalog: c, logs } = catalog();
    c.seen("user.deleted");
    await c.settle();
    expect(logs).toEqual([
      expect.objectContaining({ level: "warn", err: expect.objectContaining({ code: "svix_rejected" }) }),
    ]);
    c.seen("user.deleted");
    await c.settle();
    c.seen("user.deleted");
    await c.settle();
    expect(emulator.state.eventTypes.get("user.deleted")).toMatchObject({ description: "A user was deleted." });
    expect(writes()).toEqual(["user.deleted", "user.deleted"]);
  });

  it("a failure of one type does not stop the others", async () => {
    emulator.faults.add({ operation: "eventType.get", kind: "reset", times: 1 });
    const { catalog: c, logs } = catalog();
    c.seen("a.one");
    await c.settle();
    c.seen("b.two");
    await c.settle();
    expect([...emulator.state.eventTypes.keys()]).toEqual(["b.two"]);
    expect(logs.filter((l) => l.level === "warn")).toEqual([
      expect.objectContaining({ eventType: "a.one", err: expect.objectContaining({ code: "svix_unavailable" }) }),
    ]);
  });
});
