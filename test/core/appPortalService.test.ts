// App-portal links: the request body's rules, and what is asked of Svix (the real gateway, over
// HTTP, to the Svix emulator) on a fixed clock.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { SvixEmulator } from "../../src/emulator/svixEmulator.ts";
import { AppError } from "../../src/errors.ts";
import { createMetrics } from "../../src/observability/metrics.ts";
import { SdkSvixGateway } from "../../src/svix/svixGateway.ts";
import { AppPortalService, parseAppPortalOptions } from "../../src/core/appPortalService.ts";
import { appUidFor } from "../../src/core/svixIdentifiers.ts";

function details(body: unknown): Array<{ path: string; message: string }> {
  try {
    parseAppPortalOptions(body);
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe("invalid_request");
    if (body && typeof body === "object" && !Array.isArray(body))
      expect((error as AppError).message).toBe("Invalid app-portal request");
    return (error as AppError).details!;
  }
  throw new Error("accepted");
}

describe("parseAppPortalOptions", () => {
  it("takes no body as no options, and reads every option", () => {
    expect(parseAppPortalOptions(undefined)).toEqual({});
    expect(parseAppPortalOptions(null)).toEqual({});
    expect(parseAppPortalOptions({})).toEqual({
      expirySeconds: undefined,
      readOnly: undefined,
      featureFlags: undefined,
    });
    expect(parseAppPortalOptions({ expirySeconds: 3600, readOnly: false, featureFlags: ["a", "B-9_.x"] })).toEqual({
      expirySeconds: 3600,
      readOnly: false,
      featureFlags: ["a", "B-9_.x"],
    });
    expect(parseAppPortalOptions({ expirySeconds: 604_800 }).expirySeconds).toBe(604_800);
  });

  it("refuses a body that is not an object", () => {
    for (const body of ["x", 3, true, []]) {
      expect(() => parseAppPortalOptions(body)).toThrow(
        expect.objectContaining({ code: "invalid_request", message: "The body must be a JSON object" }),
      );
      expect(details(body)).toEqual([{ path: "/", message: "must be an object" }]);
    }
  });

  it("names each problem once, with what it must be", () => {
    expect(details({ expirySeconds: 3599, readOnly: "yes", featureFlags: ["ok", "not ok", 7], theme: "dark" })).toEqual(
      [
        { path: "/theme", message: "is not a known field (expirySeconds, readOnly, featureFlags)" },
        { path: "/expirySeconds", message: "must be an integer from 3600 (1 hour) to 604800 (7 days)" },
        { path: "/readOnly", message: "must be a boolean" },
        { path: "/featureFlags/1", message: "must be 1 to 256 characters of [a-zA-Z0-9-_.]" },
        { path: "/featureFlags/2", message: "must be 1 to 256 characters of [a-zA-Z0-9-_.]" },
      ],
    );
    expect(details({ expirySeconds: 604_801 }).map((d) => d.path)).toEqual(["/expirySeconds"]);
    expect(details({ expirySeconds: 3600.5 }).map((d) => d.path)).toEqual(["/expirySeconds"]);
    expect(details({ expirySeconds: "3600" }).map((d) => d.path)).toEqual(["/expirySeconds"]);
  });

  it("takes 1 to 25 distinct flags of 1 to 256 allowed characters", () => {
    const many = (n: number) => Array.from({ length: n }, (_, i) => `f${i}`);
    expect(parseAppPortalOptions({ featureFlags: many(25) }).featureFlags).toHaveLength(25);
    expect(parseAppPortalOptions({ featureFlags: ["x".repeat(256)] }).featureFlags).toEqual(["x".repeat(256)]);
    for (const flags of [[], many(26), "beta", { 0: "beta" }])
      expect(details({ featureFlags: flags })).toEqual([
        { path: "/featureFlags", message: "must be an array of 1 to 25 flags" },
      ]);
    expect(details({ featureFlags: ["x".repeat(257)] }).map((d) => d.path)).toEqual(["/featureFlags/0"]);
    expect(details({ featureFlags: [""] }).map((d) => d.path)).toEqual(["/featureFlags/0"]);
    expect(details({ featureFlags: ["a", "b", "a"] })).toEqual([
      { path: "/featureFlags", message: "must not repeat a flag" },
    ]);
  });
});

describe("AppPortalService.link", () => {
  const NOW = new Date("2026-12-01T08:00:00.000Z");
  let emulator: SvixEmulator;
  let service: AppPortalService;
  beforeAll(async () => {
    emulator = new SvixEmulator({ apiKey: "k" });
    const svix = new SdkSvixGateway({
      apiKey: "k",
      serverUrl: await emulator.start(),
      requestTimeoutMs: 30_000,
      metrics: createMetrics(),
    });
    service = new AppPortalService({ svix, clock: { now: () => NOW.getTime() } });
  });
  afterAll(() => emulator.stop());
  beforeEach(() => emulator.reset());

  it("creates the project's application with the link, and expires it after Svix's 7 days unless told otherwise", async () => {
    const link = await service.link("acme-portal");
    expect(link.expiresAt).toEqual(new Date(NOW.getTime() + 7 * 86_400_000));
    expect(link.token).toMatch(/^appsk_/);
    const app = emulator.state.findApp(appUidFor("acme-portal"))!;
    expect(app).toMatchObject({ uid: appUidFor("acme-portal"), name: "acme-portal" });
    expect(link.url).toContain(Buffer.from(JSON.stringify({ appId: app.id, token: link.token })).toString("base64url"));
    expect(emulator.state.portalAccesses).toEqual([
      { appId: app.id, expiry: null, featureFlags: null, capabilities: null },
    ]);
  });

  it("asks Svix for the expiry, flags and read-only access requested", async () => {
    const link = await service.link("acme-portal", { expirySeconds: 3600, readOnly: true, featureFlags: ["beta"] });
    expect(link.expiresAt).toEqual(new Date(NOW.getTime() + 3_600_000));
    expect(emulator.state.portalAccesses).toEqual([
      { appId: expect.any(String), expiry: 3600, featureFlags: ["beta"], capabilities: ["ViewBase"] },
    ]);
    await service.link("acme-portal", { readOnly: false });
    expect(emulator.state.portalAccesses[1]).toMatchObject({ capabilities: null });
    expect(emulator.state.apps.size).toBe(1);
  });

  it("passes Svix's refusal on as the relay's error", async () => {
    emulator.faults.add({ kind: "status", status: 503, operation: "appPortalAccess", times: 1 });
    await expect(service.link("acme-portal")).rejects.toMatchObject({ code: "svix_unavailable" });
  });
});
