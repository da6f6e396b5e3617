import { Svix } from "svix";
import { describe, expect, it } from "vitest";
import { apiError, useEmulatorSdk } from "../helpers/emulatorSdk.ts";

// The emulator's contract, driven through the real svix SDK over HTTP: the status codes and
// body shapes of Svix's OpenAPI spec for the operations the relay uses.
const sdk = useEmulatorSdk();

describe("applications", () => {
  it("creates with a uid, finds it by id or uid, and get-or-create returns the same one", async () => {
    const app = await sdk.svix.application.create({ name: "Acme", uid: "acme" });
    expect(app.id).toMatch(/^app_[A-Za-z0-9]{27}$/);
    expect(app).toMatchObject({ name: "Acme", uid: "acme", metadata: {} });
    expect((await sdk.svix.application.get("acme")).id).toBe(app.id);
    expect((await sdk.svix.application.get(app.id)).uid).toBe("acme");
    expect((await sdk.svix.application.getOrCreate({ name: "Other name", uid: "acme" })).id).toBe(app.id);
  });

  it("answers 409 for a second create with the same uid, 404 for an unknown app, 422 for an invalid uid", async () => {
    await sdk.svix.application.create({ name: "Acme", uid: "acme" });
    expect((await apiError(sdk.svix.application.create({ name: "Acme", uid: "acme" }))).code).toBe(409);
    const missing = await apiError(sdk.svix.application.get("nope"));
    expect(missing.code).toBe(404);
    expect(missing.body).toMatchObject({ code: "not_found" });
    const invalid = await apiError(sdk.svix.application.create({ name: "x", uid: "has spaces" }));
    expect(invalid.code).toBe(422);
    expect(invalid.body.detail).toEqual([
      expect.objectContaining({ loc: ["body", "uid"], type: expect.any(String), msg: expect.any(String) }),
    ]);
  });

  it("refuses a wrong API key with 401", async () => {
    const other = new Svix("wrong", { serverUrl: sdk.emulator.url, retryScheduleInMs: [] });
    expect((await apiError(other.application.get("acme"))).code).toBe(401);
  });
});

describe("messages", () => {
  it("creates a message, creating the application inline, and rejects a second one with the same eventId (409)", async () => {
    const msg = await sdk.svix.message.create("proj-1", {
      eventType: "user.created",
      eventId: "evt_1",
      payload: { a: 1 },
      application: { name: "proj-1", uid: "proj-1" },
    });
    expect(msg.id).toMatch(/^msg_[A-Za-z0-9]{27}$/);
    expect(msg).toMatchObject({ eventId: "evt_1", eventType: "user.created" });
    expect(
      (
        await apiError(
          sdk.svix.message.create("proj-1", { eventType: "user.created", eventId: "evt_1", payload: { a: 1 } }),
        )
      ).code,
    ).toBe(409);
    expect((await sdk.svix.message.get("proj-1", "evt_1")).id).toBe(msg.id);
    expect((await sdk.svix.message.list("proj-1")).data).toHaveLength(1);
  });

  it("answers 404 for a message to an unknown application without inline creation", async () => {
    expect((await apiError(sdk.svix.message.create("ghost", { eventType: "t", payload: {} }))).code).toBe(404);
  });

  it("replays the first 2xx answer for a repeated idempotency key, even without eventId", async () => {
    await sdk.svix.application.create({ name: "p", uid: "p" });
    const first = await sdk.svix.message.create(
      "p",
      { eventType: "t", payload: { n: 1 } },
      { idempotencyKey: "key-1" },
    );
    const again = await sdk.svix.message.create(
      "p",
      { eventType: "t", payload: { n: 1 } },
      { idempotencyKey: "key-1" },
    );
    expect(again.id).toBe(first.id);
    expect(sdk.emulator.state.allMessages()).toHaveLength(1);
  });

  it("does not store a failed answer under its idempotency key", async () => {
    await sdk.svix.application.create({ name: "p", uid: "p" });
    sdk.emulator.faults.add({ kind: "status", status: 500, operation: "message.create", times: 1 });
    expect(
      (await apiError(sdk.svix.message.create("p", { eventType: "t", payload: {} }, { idempotencyKey: "k2" }))).code,
    ).toBe(500);
    const ok = await sdk.svix.message.create("p", { eventType: "t", payload: {} }, { idempotencyKey: "k2" });
    expect(ok.id).toMatch(/^msg_/);
  });

  it("answers 413 for a payload over 1 MiB and 422 for an invalid event type", async () => {
    await sdk.svix.application.create({ name: "p", uid: "p" });
    expect(
      (await apiError(sdk.svix.message.create("p", { eventType: "t", payload: { blob: "x".repeat(1024 * 1024) } })))
        .code,
    ).toBe(413);
    const invalid = await apiError(sdk.svix.message.create("p", { eventType: "not valid!", payload: {} }));
    expect(invalid.code).toBe(422);
    expect(invalid.body.detail).toEqual([expect.objectContaining({ loc: ["body", "eventType"] })]);
  });
});

describe("app portal, event types, health", () => {
  it("returns an app-portal URL and token", async () => {
    await sdk.svix.application.create({ name: "p", uid: "p" });
    const access = await sdk.svix.authentication.appPortalAccess("p", {});
    expect(access.token).toMatch(/^appsk_/);
    expect(() => new URL(access.url)).not.toThrow();
  });

  it("creates and reads event types, 409 on a duplicate", async () => {
    await sdk.svix.eventType.create({ name: "user.created", description: "A user was created" });
    expect((await sdk.svix.eventType.get("user.created")).description).toBe("A user was created");
    expect((await apiError(sdk.svix.eventType.create({ name: "user.created", description: "again" }))).code).toBe(409);
  });

  it("upserts an event type by name (201 created, 200 updated, createdAt kept) and lists it, schemas only with content", async () => {
    const schemas = { "1": { type: "object", examples: [{ a: 1 }] } };
    const created = await sdk.svix.eventType.upsert("user.created", { description: "first", schemas });
    expect(created).toMatchObject({ name: "user.created", description: "first", schemas, archived: false });
    expect(sdk.emulator.calls.at(-1)).toMatchObject({ operation: "eventType.upsert", status: 201 });
    const updated = await sdk.svix.eventType.upsert("user.created", { description: "second", archived: true });
    expect(updated).toMatchObject({ description: "second", schemas: null, archived: true });
    expect(updated.createdAt).toEqual(created.createdAt);
    expect(sdk.emulator.calls.at(-1)).toMatchObject({ operation: "eventType.upsert", status: 200 });
    await sdk.svix.eventType.create({ name: "a.first", description: "a", schemas });
    expect((await sdk.svix.eventType.list()).data.map((t) => [t.name, t.schemas])).toEqual([["a.first", null]]);
    const all = await sdk.svix.eventType.list({ withContent: true, includeArchived: true });
    expect(all.data.map((t) => [t.name, t.schemas])).toEqual([
      ["a.first", schemas],
      ["user.created", null],
    ]);
    const paged = await sdk.svix.eventType.list({ limit: 1, includeArchived: true });
    expect([paged.data.map((t) => t.name), paged.done, paged.iterator]).toEqual([["a.first"], false, "a.first"]);
    const next = await sdk.svix.eventType.list({ limit: 1, includeArchived: true, iterator: paged.iterator! });
    expect([next.data.map((t) => t.name), next.done]).toEqual([["user.created"], true]);
  });

  it("decodes the name in an event type's path, and refuses a name Svix's pattern refuses (422)", async () => {
    await sdk.svix.eventType.create({ name: "user.created", description: "d" });
    const got = await fetch(`${sdk.emulator.url}/api/v1/event-type/user%2Ecreated`, {
      headers: { authorization: "Bearer sk_test" },
    });
    expect(got.status).toBe(200);
    const bad = await apiError(sdk.svix.eventType.upsert("user/created", { description: "d" }));
    expect(bad.code).toBe(422);
    expect(sdk.emulator.calls.at(-1)).toMatchObject({ path: "/api/v1/event-type/user%2Fcreated", status: 422 });
  });

  it("answers health with 204", async () => {
    await expect(sdk.svix.health.get()).resolves.toBeUndefined();
  });
});

describe("paths: decoded as Svix decodes them, recorded as they arrived", () => {
  const post = (path: string, body: unknown) =>
    fetch(`${sdk.emulator.url}${path}`, {
      method: "POST",
      headers: { authorization: "Bearer sk_test", "content-type": "application/json" },
      body: JSON.stringify(body),
    });

  it("decodes a percent-encoded segment: acme%2Dmobile is the application acme-mobile", async () => {
    const app = await sdk.svix.application.create({ name: "Acme", uid: "acme-mobile" });
    const res = await post("/api/v1/app/acme%2Dmobile/msg", { eventType: "user.created", payload: { a: 1 } });
    expect(res.status).toBe(202);
    expect(sdk.emulator.state.messagesOf(app.id)).toHaveLength(1);
    expect(sdk.emulator.calls.at(-1)).toMatchObject({
      operation: "message.create",
      method: "POST",
      path: "/api/v1/app/acme%2Dmobile/msg",
      status: 202,
    });
  });

  it("takes an encoded slash as part of one segment, never as a separator", async () => {
    const res = await post("/api/v1/app/a%2Fmsg/msg", { eventType: "t", payload: {} });
    expect(res.status).toBe(404);
    expect(sdk.emulator.calls.at(-1)).toMatchObject({ operation: "message.create", path: "/api/v1/app/a%2Fmsg/msg" });
  });

  it("records a call no route matches, with its raw path, so a stray call shows", async () => {
    const res = await post("/api/v1/msg", { eventType: "t", payload: {} });
    expect(res.status).toBe(404);
    expect(sdk.emulator.calls).toEqual([
      expect.objectContaining({ operation: "unmatched", method: "POST", path: "/api/v1/msg", status: 404 }),
    ]);
  });
});

describe("fault injection", () => {
  it("rate-limits with 429 and Retry-After", async () => {
    await sdk.svix.application.create({ name: "p", uid: "p" });
    sdk.emulator.faults.setRateLimit({ perSecond: 2, retryAfterSeconds: 3, operation: "message.create" });
    await sdk.svix.message.create("p", { eventType: "t", payload: {} });
    await sdk.svix.message.create("p", { eventType: "t", payload: {} });
    const limited = await apiError(sdk.svix.message.create("p", { eventType: "t", payload: {} }));
    expect(limited.code).toBe(429);
    expect((limited.headers as Record<string, string>)["retry-after"]).toBe("3");
  });

  it("is controllable over HTTP", async () => {
    const res = await fetch(`${sdk.emulator.url}/_emulator/faults`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ kind: "status", status: 503, times: 1 }),
    });
    expect(res.status).toBe(201);
    expect((await apiError(sdk.svix.application.get("x"))).code).toBe(503);
    expect((await apiError(sdk.svix.application.get("x"))).code).toBe(404);
    const bad = await fetch(`${sdk.emulator.url}/_emulator/faults`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ kind: "explode" }),
    });
    expect(bad.status).toBe(400);
    const messages = (await (await fetch(`${sdk.emulator.url}/_emulator/messages`)).json()) as { count: number };
    expect(messages.count).toBe(0);
  });
});
