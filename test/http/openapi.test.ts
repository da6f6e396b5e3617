import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OPENAPI } from "../../src/http/openapi.ts";
import { startHarness, type Harness } from "../helpers/relayHarness.ts";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.close());

interface Layer {
  route?: { path: string; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
}

/** Every route the app serves, as "METHOD /path/{param}", found by walking Express's routers. */
function servedRoutes(stack: Layer[]): string[] {
  const routes: string[] = [];
  for (const layer of stack) {
    if (layer.route) {
      const path = layer.route.path.replace(/:(\w+)/g, "{$1}");
      for (const [method, on] of Object.entries(layer.route.methods))
        if (on && method !== "_all") routes.push(`${method.toUpperCase()} ${path}`);
    } else if (layer.handle?.stack) routes.push(...servedRoutes(layer.handle.stack));
  }
  return routes;
}

describe("GET /openapi.json", () => {
  it("is served, openly, as OpenAPI 3.1", async () => {
    const res = await h.http.get("/openapi.json").expect(200);
    expect(res.body.openapi).toBe("3.1.0");
  });

  it("documents exactly the JSON routes the app serves (the HTML dashboard aside)", () => {
    const served = servedRoutes((h.app as unknown as { router: { stack: Layer[] } }).router.stack).filter(
      (r) => !r.includes(" /dashboard"),
    );
    const documented = Object.entries(OPENAPI.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
    );
    expect([...new Set(served)].sort()).toEqual(documented.sort());
  });
});
