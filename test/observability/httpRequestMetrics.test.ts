import { once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeEvent } from "../helpers/events.ts";
import { parseScrape, type Scrape, sampleValue } from "../helpers/prometheusText.ts";
import { type Harness, startHarness } from "../helpers/relayHarness.ts";

// relay_http_requests_total{route,status_class}: every answer, by the route pattern it was for
// (never the path: ids would make a series per event) and its status class.
const OPERATOR = "operator-token-0123456789abcdef";
const auth = { authorization: `Bearer ${OPERATOR}` };
let h: Harness;
beforeAll(async () => {
  h = await startHarness({ API_TOKENS: OPERATOR, INGEST_MAX_IN_FLIGHT: "1" });
});
afterAll(() => h.close());

async function scrape(): Promise<Scrape> {
  return parseScrape((await h.http.get("/metrics").set(auth).expect(200)).text);
}
const requests = (s: Scrape, route: string, statusClass: string) =>
  sampleValue(s, "relay_http_requests_total", { route, status_class: statusClass }) ?? 0;

describe("relay_http_requests_total", () => {
  it("counts answers by the matched route pattern and status class, probes included", async () => {
    const event = makeEvent();
    await h.http.post("/notifications").set(auth).send(event).expect(200);
    await h.http.post("/notifications").set(auth).send("{").type("json").expect(400);
    await h.http.get(`/notifications/${event.id}`).set(auth).expect(200);
    await h.http.get("/notifications/evt_unknown").set(auth).expect(404);
    await h.http.get("/healthz").expect(200);
    const s = await scrape();
    expect(requests(s, "POST /notifications", "2xx")).toBe(1);
    expect(requests(s, "POST /notifications", "4xx")).toBe(1);
    expect(requests(s, "GET /notifications/:eventId", "2xx")).toBe(1);
    expect(requests(s, "GET /notifications/:eventId", "4xx")).toBe(1);
    expect(requests(s, "GET /healthz", "2xx")).toBe(1);
    const routes = s.samples.filter((x) => x.name === "relay_http_requests_total").map((x) => x.labels.route!);
    expect(routes.filter((r) => r.includes(event.id) || r.includes("evt_unknown"))).toEqual([]);
  });

  it("names the route of a request refused before routing (authentication), and 'unmatched' for no route", async () => {
    await h.http.post("/notifications").send(makeEvent()).expect(401);
    await h.http.get("/notifications/evt_123").expect(401);
    await h.http.get("/no/such/path/evt_123").set(auth).expect(404);
    const s = await scrape();
    expect(requests(s, "POST /notifications", "4xx")).toBe(2);
    expect(requests(s, "GET /notifications/:eventId", "4xx")).toBe(2);
    expect(requests(s, "unmatched", "4xx")).toBe(1);
  });

  it("counts a post shed by admission control as a 5xx of POST /notifications", async () => {
    const server = http.createServer(h.app).listen(0);
    await once(server, "listening");
    // A post whose body never finishes takes the only place: admission has let it in by the time
    // the event loop turns after its arrival (nothing on its way there waits for I/O).
    const arrived = once(server, "request");
    const held = http.request({
      port: (server.address() as AddressInfo).port,
      method: "POST",
      path: "/notifications",
      headers: { ...auth, "content-type": "application/json", "content-length": 1_000 },
    });
    held.on("error", () => undefined);
    held.write("{");
    try {
      await arrived;
      await new Promise((resolve) => setImmediate(resolve));
      const shed = await h.http.post("/notifications").set(auth).send(makeEvent());
      expect(shed.status).toBe(503);
      expect(shed.body.error.code).toBe("overloaded");
      expect(requests(await scrape(), "POST /notifications", "5xx")).toBe(1);
    } finally {
      held.destroy();
      server.closeAllConnections();
      server.close();
    }
  });
});
