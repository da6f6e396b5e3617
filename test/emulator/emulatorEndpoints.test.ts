import { Ordering, Svix } from "svix";
import { describe, expect, it } from "vitest";
import { SvixEmulator } from "../../src/emulator/svixEmulator.ts";
import { apiError, useEmulatorSdk } from "../helpers/emulatorSdk.ts";

// The emulator's endpoint API, driven through the real svix SDK over HTTP: the paths, status
// codes and body shapes of Svix's OpenAPI spec (EndpointIn/EndpointOut/EndpointSecretOut).
const sdk = useEmulatorSdk();

const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

describe("endpoints", () => {
  it("creates, lists, gets (by id or uid), reveals the secret, and deletes, with the app's id or uid", async () => {
    const app = await sdk.svix.application.create({ name: "Acme", uid: "acme" });
    const ep = await sdk.svix.endpoint.create("acme", {
      url: "https://example.com/hook",
      uid: "main",
      eventTypes: ["user.created"],
      secret: SECRET,
      description: "main",
    });
    expect(ep.id).toMatch(/^ep_[A-Za-z0-9]{27}$/);
    expect(ep).toMatchObject({
      url: "https://example.com/hook",
      uid: "main",
      eventTypes: ["user.created"],
      description: "main",
      disabled: false,
      metadata: {},
    });
    expect(ep).not.toHaveProperty("secret");
    expect((await sdk.svix.endpoint.getSecret("acme", ep.id)).key).toBe(SECRET);

    const generated = await sdk.svix.endpoint.create(app.id, { url: "http://127.0.0.1:9/other" });
    expect((await sdk.svix.endpoint.getSecret(app.id, generated.id)).key).toMatch(/^whsec_[A-Za-z0-9+/=]{32}$/);

    const list = await sdk.svix.endpoint.list("acme");
    expect(list.data.map((e) => e.id)).toEqual([generated.id, ep.id]);
    expect(list).toMatchObject({ done: true, iterator: ep.id });
    const firstPage = await sdk.svix.endpoint.list("acme", { limit: 1, order: Ordering.Ascending });
    expect(firstPage.data.map((e) => e.id)).toEqual([ep.id]);
    expect(firstPage.done).toBe(false);

    expect((await sdk.svix.endpoint.get("acme", "main")).id).toBe(ep.id);
    await sdk.svix.endpoint.delete(app.id, "main");
    expect((await apiError(sdk.svix.endpoint.get("acme", ep.id))).code).toBe(404);
    expect((await sdk.svix.endpoint.list("acme")).data).toHaveLength(1);
  });

  it("stores a secret given without prefix as whsec_…", async () => {
    await sdk.svix.application.create({ name: "p", uid: "p" });
    const ep = await sdk.svix.endpoint.create("p", {
      url: "https://example.com/",
      secret: SECRET.slice("whsec_".length),
    });
    expect((await sdk.svix.endpoint.getSecret("p", ep.id)).key).toBe(SECRET);
  });

  it("answers 422 (HTTPValidationError) for a bad url, secret or event type, 409 for a taken uid, 404 for an unknown app", async () => {
    await sdk.svix.application.create({ name: "p", uid: "p" });
    const badUrl = await apiError(sdk.svix.endpoint.create("p", { url: "not a url" }));
    expect(badUrl.code).toBe(422);
    expect(badUrl.body.detail).toEqual([
      expect.objectContaining({ loc: ["body", "url"], msg: expect.any(String), type: expect.any(String) }),
    ]);
    const badSecret = await apiError(
      sdk.svix.endpoint.create("p", { url: "https://example.com/", secret: "whsec_short" }),
    );
    expect(badSecret.body.detail).toEqual([expect.objectContaining({ loc: ["body", "secret"] })]);
    const badType = await apiError(
      sdk.svix.endpoint.create("p", { url: "https://example.com/", eventTypes: ["no spaces!"] }),
    );
    expect(badType.body.detail).toEqual([expect.objectContaining({ loc: ["body", "eventTypes", "0"] })]);
    await sdk.svix.endpoint.create("p", { url: "https://example.com/", uid: "one" });
    expect((await apiError(sdk.svix.endpoint.create("p", { url: "https://example.com/", uid: "one" }))).code).toBe(409);
    expect((await apiError(sdk.svix.endpoint.create("ghost", { url: "https://example.com/" }))).code).toBe(404);
    expect((await apiError(sdk.svix.endpoint.getSecret("p", "ep_nope"))).code).toBe(404);
  });

  it("patches and upserts; PUT on an unknown uid creates it (201 → the SDK returns it)", async () => {
    await sdk.svix.application.create({ name: "p", uid: "p" });
    const ep = await sdk.svix.endpoint.create("p", {
      url: "https://example.com/a",
      uid: "a",
      eventTypes: ["x"],
      metadata: { team: "core" },
    });
    const patched = await sdk.svix.endpoint.patch("p", "a", { url: "https://example.com/b", eventTypes: null });
    expect(patched).toMatchObject({
      id: ep.id,
      url: "https://example.com/b",
      eventTypes: null,
      metadata: { team: "core" },
    });
    const replaced = await sdk.svix.endpoint.upsert("p", "a", { url: "https://example.com/c" });
    expect(replaced).toMatchObject({ id: ep.id, url: "https://example.com/c", uid: "a", metadata: {} });
    const created = await sdk.svix.endpoint.upsert("p", "new-one", { url: "https://example.com/d" });
    expect(created).toMatchObject({ uid: "new-one", url: "https://example.com/d" });
    expect((await sdk.svix.endpoint.list("p")).data).toHaveLength(2);
  });

  it("accepts filterTypes, Svix's former name for eventTypes", async () => {
    await sdk.svix.application.create({ name: "p", uid: "p" });
    const res = await fetch(`${sdk.emulator.url}/api/v1/app/p/endpoint`, {
      method: "POST",
      headers: { authorization: "Bearer sk_test", "content-type": "application/json" },
      body: JSON.stringify({ url: "https://example.com/", filterTypes: ["user.created"] }),
    });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ eventTypes: ["user.created"] });
  });

  it("registers the defaultEndpoint on every application, however it is created", async () => {
    const withDefault = new SvixEmulator({ defaultEndpoint: { url: "http://127.0.0.1:9/sink", secret: SECRET } });
    const client = new Svix("any", { serverUrl: await withDefault.start(), retryScheduleInMs: [] });
    try {
      await client.application.create({ name: "a", uid: "a" });
      await client.message.create("b", { eventType: "t", payload: {}, application: { name: "b", uid: "b" } });
      for (const app of ["a", "b"]) {
        const [ep] = (await client.endpoint.list(app)).data;
        expect(ep?.url).toBe("http://127.0.0.1:9/sink");
        expect((await client.endpoint.getSecret(app, ep?.id ?? "")).key).toBe(SECRET);
      }
    } finally {
      await withDefault.stop();
    }
  });
});
