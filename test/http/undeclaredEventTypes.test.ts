import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeEvent, unwrappedHeaders, wrapped } from "../helpers/events.ts";
import { type Harness, startHarness } from "../helpers/relayHarness.ts";

// What reaches Svix's shared event-type catalog — every customer's app portal shows it — when
// any ingest caller can choose an event's type: only the declared types (schemas/event-types.json).
// Through the relay as `npm start` builds it, against the Svix emulator over the real SDK.

const EVIL = "contact.evil-example.com";
const PRIVATE = { object: "user", id: "usr_1", email: "private.person@example.com" };

/** Svix's catalog as a customer's portal would list it (GET /api/v1/event-type, with the schemas). */
async function svixCatalog(h: Harness): Promise<Array<{ name: string; description: string; schemas: unknown }>> {
  const res = await fetch(`${h.emulator.url}/api/v1/event-type?with_content=true&include_archived=true`, {
    headers: { authorization: "Bearer test-key" },
  });
  return ((await res.json()) as { data: Array<{ name: string; description: string; schemas: unknown }> }).data;
}

async function metric(h: Harness, line: string): Promise<number | undefined> {
  const text = (await h.http.get("/metrics").expect(200)).text;
  const found = text.split("\n").find((l) => l.startsWith(`${line} `));
  return found === undefined ? undefined : Number(found.slice(line.length + 1));
}

const undeclaredLines = (h: Harness, type: string) =>
  h.logs.filter((l) => l.eventType === type && String(l.message).startsWith("event type not declared"));

describe("UNDECLARED_EVENT_TYPES=deliver (the default)", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ EVENT_TYPE_CATALOG: "true" });
  });
  afterAll(() => h.close());

  it("delivers an undeclared type but never adds it to Svix's catalog; counts every event, logs the type once, never the payload", async () => {
    for (let i = 0; i < 3; i += 1) {
      const res = await h.http
        .post("/notifications")
        .send(makeEvent({ type: EVIL, data: PRIVATE }))
        .expect(200);
      expect(res.body.data).toMatchObject({ status: "delivered", duplicate: false });
    }
    // And from Pub/Sub, wrapped and unwrapped: delivered, not quarantined.
    await h.http
      .post("/notifications")
      .send(wrapped(makeEvent({ type: EVIL })))
      .expect(200)
      .expect((res) => expect(res.body.data.status).toBe("accepted"));
    await h.http
      .post("/notifications")
      .set(unwrappedHeaders())
      .send(makeEvent({ type: EVIL }))
      .expect(200)
      .expect((res) => expect(res.body.data.status).toBe("accepted"));
    await h.settle();
    await h.container.eventTypes!.settle();
    expect(h.emulator.state.allMessages().filter((m) => m.eventType === EVIL)).toHaveLength(5);
    expect(h.emulator.calls.filter((c) => c.path.startsWith("/api/v1/event-type"))).toEqual([]);
    expect(await svixCatalog(h)).toEqual([]);
    expect(await metric(h, 'relay_undeclared_event_types_total{action="deliver"}')).toBe(5);
    expect(undeclaredLines(h, EVIL)).toEqual([expect.objectContaining({ level: "warn", action: "deliver" })]);
    expect(h.rawLogs.join("\n")).not.toContain("private.person");
  });

  it("adds a declared type to Svix's catalog once, with its declared description and schema, and counts nothing", async () => {
    const before = await metric(h, 'relay_undeclared_event_types_total{action="deliver"}');
    for (let i = 0; i < 2; i += 1)
      await h.http
        .post("/notifications")
        .send(makeEvent({ type: "payment.succeeded" }))
        .expect(200);
    await h.container.eventTypes!.settle();
    const declared = h.container.declaredEventTypes.get("payment.succeeded")!;
    expect(await svixCatalog(h)).toEqual([
      expect.objectContaining({
        name: "payment.succeeded",
        description: declared.description,
        schemas: {
          "1": expect.objectContaining({
            properties: { type: { const: "payment.succeeded" }, data: declared.dataSchema },
            examples: [declared.example],
          }),
        },
      }),
    ]);
    expect(h.emulator.calls.filter((c) => c.operation === "eventType.upsert")).toHaveLength(1);
    expect(await metric(h, 'relay_undeclared_event_types_total{action="deliver"}')).toBe(before);
  });
});

describe("UNDECLARED_EVENT_TYPES=reject", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ EVENT_TYPE_CATALOG: "true", UNDECLARED_EVENT_TYPES: "reject" });
  });
  afterAll(() => h.close());

  it("refuses an internal caller's event of an undeclared type with 422 undeclared_event_type, recording nothing, calling nothing", async () => {
    h.emulator.reset();
    const event = makeEvent({ type: EVIL, data: PRIVATE });
    const res = await h.http.post("/notifications").send(event).expect(422);
    expect(res.body.error).toMatchObject({
      code: "undeclared_event_type",
      message: `Event type "${EVIL}" is not declared in the relay's event-type catalog`,
      details: [{ path: "/type", message: "must be a declared event type (schemas/event-types.json)" }],
    });
    await h.http.get(`/notifications/${event.id}`).expect(404);
    expect(await h.container.store.summary(event.id)).toBeNull();
    expect(h.emulator.calls).toEqual([]);
    expect(await svixCatalog(h)).toEqual([]);
    expect(h.rawLogs.join("\n")).not.toContain("private.person");
  });

  it("quarantines a Pub/Sub message of an undeclared type (reason undeclared_event_type), once however often it is pushed", async () => {
    h.emulator.reset();
    const event = makeEvent({ type: "user.created.v2" });
    const envelope = wrapped(event);
    for (let i = 0; i < 2; i += 1) {
      const res = await h.http.post("/notifications").send(envelope).expect(200);
      expect(res.body.data).toMatchObject({
        status: "quarantined",
        reason: "undeclared_event_type",
        eventId: event.id,
        duplicate: i > 0,
      });
    }
    const quarantined = (await h.http.get("/quarantine").expect(200)).body.data as Array<Record<string, unknown>>;
    expect(quarantined.filter((q) => q.eventId === event.id)).toEqual([
      expect.objectContaining({
        reason: "undeclared_event_type",
        transport: expect.objectContaining({ kind: "push_wrapped" }),
      }),
    ]);
    expect(await h.container.store.summary(event.id)).toBeNull();
    expect(h.emulator.calls).toEqual([]);
    expect(await metric(h, 'relay_quarantined_total{reason="undeclared_event_type"}')).toBe(1);
  });

  it("counts every refused event by action, and logs each type once", async () => {
    for (let i = 0; i < 2; i += 1)
      await h.http
        .post("/notifications")
        .send(makeEvent({ type: "x.y" }))
        .expect(422);
    expect(await metric(h, 'relay_undeclared_event_types_total{action="reject"}')).toBe(5);
    expect(undeclaredLines(h, "x.y")).toEqual([expect.objectContaining({ level: "warn", action: "reject" })]);
    expect(undeclaredLines(h, EVIL)).toHaveLength(1);
  });

  it("still delivers and catalogues a declared type", async () => {
    h.emulator.reset();
    await h.http
      .post("/notifications")
      .send(makeEvent({ type: "user.created" }))
      .expect(200);
    await h.container.eventTypes!.settle();
    expect((await svixCatalog(h)).map((t) => t.name)).toEqual(["user.created"]);
  });
});

describe("EVENT_TYPE_CATALOG=false", () => {
  it("writes no type to Svix, and still refuses undeclared ones with UNDECLARED_EVENT_TYPES=reject", async () => {
    const h = await startHarness({ EVENT_TYPE_CATALOG: "false", UNDECLARED_EVENT_TYPES: "reject" });
    try {
      expect(h.container.eventTypes).toBeUndefined();
      await h.http
        .post("/notifications")
        .send(makeEvent({ type: "user.created" }))
        .expect(200);
      await h.http
        .post("/notifications")
        .send(makeEvent({ type: EVIL }))
        .expect(422);
      expect(h.emulator.calls.map((c) => c.operation)).toEqual(["message.create"]);
      expect(await svixCatalog(h)).toEqual([]);
    } finally {
      await h.close();
    }
  });
});
