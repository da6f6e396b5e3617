import { type ClientRequest, createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ERROR_LIMITS } from "../../src/errors.ts";
import { makeEvent } from "../helpers/events.ts";
import { type Harness, startHarness } from "../helpers/relayHarness.ts";

// What a hostile or careless caller can make the relay hold, write and answer: each costs about
// its own size, never a multiple of it.
const INGEST = "ingest-token-0123456789";
const OPERATOR = "operator-token-0123456789";
let h: Harness;
beforeAll(async () => {
  h = await startHarness({ INGEST_TOKENS: INGEST, API_TOKENS: OPERATOR });
});
afterAll(() => h.close());

/** `{"<key of keyBytes>":[1e400, … ×count]}`: every 1e400 is a problem whose path quotes the key. */
function amplifier(keyBytes: number, count = 20): string {
  return `{${JSON.stringify("k".repeat(keyBytes))}:[${Array.from({ length: count }, () => "1e400").join(",")}]}`;
}

function wrapped(data: string, messageId: string) {
  return {
    message: { data: Buffer.from(data).toString("base64"), messageId, publishTime: "2026-12-06T10:00:00Z" },
    subscription: "projects/p/subscriptions/relay",
  };
}

describe("error details are bounded", () => {
  it("answers a 200 KB key quoted by 20 problems in under 64 KiB, each path cut to 200 characters and marked", async () => {
    const res = await h.http
      .post("/notifications")
      .set("authorization", `Bearer ${INGEST}`)
      .set("content-type", "application/json")
      .send(amplifier(200_000))
      .expect(400);
    expect(Buffer.byteLength(JSON.stringify(res.body))).toBeLessThan(64 * 1024);
    const details = res.body.error.details as Array<{ path: string; message: string }>;
    expect(details).toHaveLength(20);
    for (const detail of details) {
      expect(detail.path.length).toBeLessThanOrEqual(ERROR_LIMITS.detailText);
      expect(detail.path).toMatch(/^\/k+…\(cut\)$/);
    }
  });

  it("keeps the details of a Pub/Sub message so bounded in the quarantine, and the list under 1 MB per page", async () => {
    for (let i = 0; i < 12; i += 1) {
      const res = await h.http
        .post("/notifications")
        .set("authorization", `Bearer ${INGEST}`)
        .set("content-type", "application/json")
        .send(wrapped(amplifier(150_000), `amp-${i}`))
        .expect(200);
      expect(res.body.data.status).toBe("quarantined");
      expect(Buffer.byteLength(JSON.stringify(res.body))).toBeLessThan(64 * 1024);
    }
    const list = await h.http.get("/quarantine?limit=500").set("authorization", `Bearer ${OPERATOR}`).expect(200);
    expect(Buffer.byteLength(JSON.stringify(list.body))).toBeLessThan(1_000_000);
    const row = list.body.data.find(
      (m: { transport: { pubsubMessageId: string } }) => m.transport.pubsubMessageId === "amp-0",
    );
    expect(row.details).toHaveLength(20);
    expect(Buffer.byteLength(JSON.stringify(row.details))).toBeLessThanOrEqual(ERROR_LIMITS.detailBytes + 20 * 64);
  });

  it("bounds details in total bytes too, and cuts messages, whatever raised them", async () => {
    const { AppError } = await import("../../src/errors.ts");
    const many = Array.from({ length: 50 }, (_, i) => ({ path: `/${"p".repeat(500)}${i}`, message: "m".repeat(500) }));
    const error = new AppError("invalid_event", "x".repeat(5000), { details: many });
    expect(error.message).toHaveLength(ERROR_LIMITS.message);
    expect(error.message.endsWith("…(cut)")).toBe(true);
    expect(error.details).toHaveLength(20);
    const bytes = error.details.reduce((n, d) => n + Buffer.byteLength(d.path) + Buffer.byteLength(d.message), 0);
    expect(bytes).toBeLessThanOrEqual(ERROR_LIMITS.detailBytes);
    // A cut never splits a surrogate pair into something PostgreSQL or JSON would mangle.
    const emoji = new AppError("invalid_event", "x", { details: [{ path: `/${"😀".repeat(150)}`, message: "m" }] });
    expect(emoji.details[0]!.path).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])/u);
  });
});

describe("GET /quarantine pages by bytes, with a cursor", () => {
  it("keeps a page under 1 MB whatever the limit, and hands the rest over with nextCursor, each message once", async () => {
    // Bodies of ~60 KiB each (the quarantine keeps 64 KiB of a body): 20 of them pass 1 MB.
    const big = `{"not an event": "${"x".repeat(60_000)}"}`;
    for (let i = 0; i < 20; i += 1) {
      await h.http
        .post("/notifications")
        .set("authorization", `Bearer ${INGEST}`)
        .set("content-type", "application/json")
        .send(wrapped(big, `big-${i}`))
        .expect(200);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const url: string = `/quarantine?limit=500${cursor ? `&cursor=${cursor}` : ""}`;
      const page = await h.http.get(url).set("authorization", `Bearer ${OPERATOR}`).expect(200);
      expect(Buffer.byteLength(JSON.stringify(page.body))).toBeLessThan(1_000_000);
      seen.push(...page.body.data.map((m: { id: string }) => m.id));
      cursor = page.body.nextCursor;
      pages += 1;
    } while (cursor && pages < 20);
    expect(pages).toBeGreaterThan(1);
    expect(new Set(seen).size).toBe(seen.length);
    const all = await h.container.quarantine.list({ limit: 1000 });
    expect(seen).toEqual(all.map((m) => m.id));
  });

  it("refuses an unknown parameter and a cursor it did not give", async () => {
    const bad = await h.http
      .get("/quarantine?limit=0&cursor=nope&offset=3")
      .set("authorization", `Bearer ${OPERATOR}`)
      .expect(400);
    expect(bad.body.error.details.map((d: { path: string }) => d.path).sort()).toEqual(["cursor", "limit", "offset"]);
  });
});

describe("a valid event still goes through", () => {
  it("is delivered alongside the hostile ones", async () => {
    const event = makeEvent();
    await h.http
      .post("/notifications")
      .set("authorization", `Bearer ${INGEST}`)
      .set("content-type", "application/json")
      .send(event)
      .expect(200);
  });
});

describe("operators' routes take JSON only: no form or other simple cross-site request reaches them", () => {
  let open: Harness;
  beforeAll(async () => {
    open = await startHarness({ OPEN_API: "true" });
  });
  afterAll(() => open.close());

  it("refuses text/plain, forms and multipart on an open relay with 415, before anything happens", async () => {
    const simple = [
      ["text/plain", '{"status":"failed"}'],
      ["application/x-www-form-urlencoded", "status=failed"],
      ["multipart/form-data; boundary=x", "--x\r\n\r\nfailed\r\n--x--"],
    ] as const;
    for (const [type, body] of simple) {
      const replay = await open.http.post("/notifications/replay").set("content-type", type).send(body).expect(415);
      expect(replay.body.error.code).toBe("unsupported_media_type");
      await open.http.post("/projects/acme/app-portal").set("content-type", type).send(body).expect(415);
      await open.http.post("/notifications/evt_1/replay").set("content-type", type).send(body).expect(415);
    }
    // A body-less POST or DELETE, as a web page's fetch() can send it: no content type at all.
    await open.http.post("/notifications/evt_1/replay").expect(415);
    await open.http.delete("/notifications/evt_1/payload").expect(415);
    expect(open.emulator.calls).toEqual([]);
  });

  it("takes the same requests as JSON, and body-less ones that carry an Authorization header", async () => {
    await open.http.post("/notifications/evt_unknown/replay").type("json").expect(404);
    await open.http.post("/notifications/replay").send({ status: "failed" }).expect(200);
    await h.http.post("/notifications/evt_unknown/replay").set("authorization", `Bearer ${OPERATOR}`).expect(404);
    await h.http.delete("/notifications/evt_unknown/payload").set("authorization", `Bearer ${OPERATOR}`).expect(404);
  });
});

describe("POST /svix/webhooks checks everything it can before reading a body", () => {
  const SECRET = `whsec_${Buffer.alloc(24, 7).toString("base64")}`;
  let signed: Harness;
  let unsigned: Harness;
  let servers: Server[] = [];
  beforeAll(async () => {
    signed = await startHarness({ SVIX_WEBHOOK_SECRET: SECRET, API_TOKENS: OPERATOR });
    unsigned = await startHarness({ API_TOKENS: OPERATOR });
  });
  afterAll(async () => {
    for (const server of servers) server.close();
    servers = [];
    await signed.close();
    await unsigned.close();
  });

  async function serve(harness: Harness): Promise<number> {
    const server = createServer(harness.app);
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return (server.address() as AddressInfo).port;
  }

  const open: ClientRequest[] = [];
  afterEach(() => {
    for (const req of open.splice(0)) req.destroy();
  });

  /** Sends the headers of a 256 KiB post and none of its body: an answer proves nothing was read. */
  function headersOnly(port: number, headers: Record<string, string>): Promise<number> {
    return new Promise((resolve, reject) => {
      const req = request({
        host: "127.0.0.1",
        port,
        method: "POST",
        path: "/svix/webhooks",
        headers: { "content-type": "application/json", "content-length": String(256 * 1024), ...headers },
      });
      req.once("response", (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
        req.destroy();
      });
      req.once("error", (error) => (error.message.includes("socket hang up") ? undefined : reject(error)));
      open.push(req);
      req.flushHeaders();
    });
  }

  const now = () => String(Math.floor(Date.now() / 1000));
  const fresh = (overrides: Record<string, string> = {}) => ({
    "svix-id": "msg_forged",
    "svix-timestamp": now(),
    "svix-signature": `v1,${Buffer.alloc(32, 1).toString("base64")}`,
    ...overrides,
  });

  it("answers 404 without reading when no SVIX_WEBHOOK_SECRET is set", async () => {
    expect(await headersOnly(await serve(unsigned), fresh())).toBe(404);
  });

  it("answers 401 for missing, malformed or stale headers, and 413 for a body over 64 KiB, without reading", async () => {
    const port = await serve(signed);
    expect(await headersOnly(port, {})).toBe(401);
    expect(await headersOnly(port, fresh({ "svix-timestamp": String(Math.floor(Date.now() / 1000) - 301) }))).toBe(401);
    expect(await headersOnly(port, fresh({ "svix-timestamp": String(Math.floor(Date.now() / 1000) + 301) }))).toBe(401);
    expect(await headersOnly(port, fresh({ "svix-signature": "v1,not-a-signature" }))).toBe(401);
    expect(await headersOnly(port, fresh({ "svix-id": "id with spaces" }))).toBe(401);
    expect(await headersOnly(port, fresh())).toBe(413);
    expect(await headersOnly(port, fresh({ "content-encoding": "gzip", "content-length": "100" }))).toBe(415);
  });

  it("reads at most 8 webhooks at once: the others are shed with 503 before a byte of them is read", async () => {
    const port = await serve(signed);
    // Twelve posts whose headers pass, each holding its body back: eight are admitted and read, four shed.
    const stalled = Array.from({ length: 12 }, () =>
      headersOnly(port, fresh({ "content-length": String(60 * 1024) })).then(
        (status) => status,
        () => 0,
      ),
    );
    const first = await Promise.race(stalled);
    expect(first).toBe(503);
    for (const req of open.splice(0)) req.destroy();
    // Their places are given back when the stalled ones go away.
    await new Promise((resolve) => setTimeout(resolve, 200));
  });

  it("still takes a webhook Svix signed", async () => {
    const { Webhook } = await import("svix");
    const payload = JSON.stringify({ type: "endpoint.enabled", data: { appUid: "acme", endpointId: "ep_1" } });
    const id = "msg_signed_1";
    const timestamp = new Date();
    const signature = new Webhook(SECRET).sign(id, timestamp, payload);
    const res = await signed.http
      .post("/svix/webhooks")
      .set("content-type", "application/json")
      .set("svix-id", id)
      .set("svix-timestamp", String(Math.floor(timestamp.getTime() / 1000)))
      .set("svix-signature", signature)
      .send(payload)
      .expect(200);
    expect(res.body.data).toMatchObject({ type: "endpoint.enabled", stored: true });
  });
});

describe("callers without credentials learn nothing internal", () => {
  it("/readyz tells anyone only whether the relay is ready; an operator also sees why", async () => {
    expect((await h.http.get("/readyz").expect(200)).body).toEqual({ status: "ready" });
    expect((await h.http.get("/readyz").set("authorization", `Bearer ${INGEST}`).expect(200)).body).toEqual({
      status: "ready",
    });
    expect((await h.http.get("/readyz").set("authorization", `Bearer ${OPERATOR}`).expect(200)).body).toEqual({
      status: "ready",
      database: "ok",
      svix: "ok",
    });
  });
});
