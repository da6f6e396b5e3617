import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { LeanHttpClient } from "../../src/svix/httpClient.ts";

// A plain node:http server standing in for Svix: each test says how it answers.
let handle: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => void res.end("ok");
let server: Server;
let base: string;
const connections: Socket[] = [];
let client: LeanHttpClient;

beforeAll(async () => {
  server = createServer((req, res) => handle(req, res));
  // No idle timeout on the server's side: an idle connection ends only when the client ends it.
  server.keepAliveTimeout = 0;
  server.on("connection", (socket: Socket) => connections.push(socket));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterEach(() => {
  client?.close();
  for (const socket of connections.splice(0)) socket.destroy();
  handle = (_req, res) => void res.end("ok");
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe("LeanHttpClient", () => {
  it("reuses one keep-alive connection for calls one after another", async () => {
    client = new LeanHttpClient();
    for (let i = 0; i < 3; i++) expect(await (await client.request(new URL(`${base}/x`), {}, 2000)).text()).toBe("ok");
    expect(connections).toHaveLength(1);
  });

  it("close() ends its idle connections", async () => {
    client = new LeanHttpClient();
    await (await client.request(new URL(`${base}/x`), {}, 2000)).text();
    const closed = new Promise((resolve) => connections[0]!.once("close", resolve));
    client.close();
    await closed;
  }, 10_000);

  it("sends the method, headers and body, and reads the status and headers (case-insensitively)", async () => {
    let seen: { method?: string; contentType?: string; body: string } = { body: "" };
    handle = (req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString("utf8")));
      req.on("end", () => {
        seen = { method: req.method, contentType: req.headers["content-type"], body };
        res.writeHead(429, { "Retry-After": "3", "content-type": "application/json" }).end("{}");
      });
    };
    client = new LeanHttpClient();
    const response = await client.request(
      new URL(`${base}/api`),
      { method: "POST", headers: { "content-type": "application/json" }, body: '{"a":1}' },
      2000,
    );
    expect(seen).toEqual({ method: "POST", contentType: "application/json", body: '{"a":1}' });
    expect(response.status).toBe(429);
    expect(response.headers.get("Retry-After")).toBe("3");
    expect(response.headers.get("x-absent")).toBeNull();
    const all: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      all[name] = value;
    });
    expect(all).toMatchObject({ "retry-after": "3", "content-type": "application/json" });
  });

  it("reads a large body that arrives in many chunks whole, multi-byte characters included", async () => {
    // 3-byte and 4-byte UTF-8 characters: 64 KiB chunks cut through some of them.
    const text = "é€😀a".repeat(100_000);
    handle = (_req, res) => {
      const bytes = Buffer.from(text, "utf8");
      // Two writes cutting the euro sign in half, then the rest.
      res.write(bytes.subarray(0, 3));
      setTimeout(() => res.end(bytes.subarray(3)), 20);
    };
    client = new LeanHttpClient();
    const body = await (await client.request(new URL(`${base}/big`), {}, 5000)).text();
    expect(body.length).toBe(text.length);
    expect(body).toBe(text);
  });

  it("an empty body reads as the empty string", async () => {
    handle = (_req, res) => void res.writeHead(204).end();
    client = new LeanHttpClient();
    const response = await client.request(new URL(`${base}/empty`), {}, 2000);
    expect(response.status).toBe(204);
    expect(await response.text()).toBe("");
  });

  it("gives up after timeoutMs with a TimeoutError naming the limit", async () => {
    handle = () => undefined;
    client = new LeanHttpClient();
    await expect(client.request(new URL(`${base}/slow`), {}, 100)).rejects.toMatchObject({
      name: "TimeoutError",
      message: "no answer within 100 ms",
    });
  });

  it("sends a call again, once, on a new connection when the kept-alive connection it went out on is dropped unanswered", async () => {
    // The server drops its first connection when a second request arrives on it (as a server
    // whose idle timeout fired just then does); anything else is answered.
    let seen = 0;
    handle = (req, res) => {
      seen += 1;
      if (req.socket === connections[0] && seen === 2) req.socket.destroy();
      else res.end("ok");
    };
    client = new LeanHttpClient({ staleAfterMs: 50 });
    await (await client.request(new URL(`${base}/x`), {}, 2000)).text();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const again = await client.request(new URL(`${base}/x`), { method: "POST", body: "{}" }, 2000);
    expect(await again.text()).toBe("ok");
    expect(seen).toBe(3);
    expect(connections).toHaveLength(2);
  });

  it("does not send again a call whose new connection is dropped, nor a call dropped twice", async () => {
    let seen = 0;
    handle = (req) => {
      seen += 1;
      req.socket.destroy();
    };
    client = new LeanHttpClient({ staleAfterMs: 50 });
    await expect(client.request(new URL(`${base}/x`), {}, 2000)).rejects.toMatchObject({ code: "ECONNRESET" });
    expect(seen).toBe(1);
    // Two kept-alive connections (two calls at once), each dropped when a call arrives on it:
    // the call goes on the first, once more on the second, and no more.
    handle = (_req, res) => void setTimeout(() => res.end("ok"), 50);
    await Promise.all([1, 2].map(async () => (await client.request(new URL(`${base}/x`), {}, 2000)).text()));
    await new Promise((resolve) => setTimeout(resolve, 100));
    seen = 0;
    handle = (req) => {
      seen += 1;
      req.socket.destroy();
    };
    await expect(client.request(new URL(`${base}/x`), {}, 2000)).rejects.toMatchObject({ code: "ECONNRESET" });
    expect(seen).toBe(2);
  });

  it("does not send again a call dropped on a connection used less than staleAfterMs before (the server meant it)", async () => {
    let seen = 0;
    handle = (req, res) => {
      seen += 1;
      if (seen === 2) req.socket.destroy();
      else res.end("ok");
    };
    client = new LeanHttpClient();
    await (await client.request(new URL(`${base}/x`), {}, 2000)).text();
    await expect(client.request(new URL(`${base}/x`), {}, 2000)).rejects.toMatchObject({ code: "ECONNRESET" });
    expect(seen).toBe(2);
  });

  it("rejects when the connection drops in the middle of the body", async () => {
    handle = (_req, res) => {
      res.writeHead(200, { "content-length": "100" });
      res.write("only part of it", () => res.socket?.destroy());
    };
    client = new LeanHttpClient();
    await expect(client.request(new URL(`${base}/cut`), {}, 5000)).rejects.toMatchObject({
      message: "aborted",
      code: "ECONNRESET",
    });
  }, 10_000);
});

describe("LeanHttpClient over https", () => {
  // No certificate here: a TCP server records the first bytes the client sends, which for an
  // https URL must be a TLS handshake (record type 0x16), not an HTTP request line.
  let tcp: TcpServer;
  let firstBytes: Promise<Buffer>;
  beforeAll(async () => {
    firstBytes = new Promise((resolve) => {
      tcp = createTcpServer((socket) =>
        socket.once("data", (data: Buffer) => {
          resolve(data);
          socket.destroy();
        }),
      );
    });
    await new Promise<void>((resolve) => tcp.listen(0, "127.0.0.1", resolve));
  });
  afterAll(() => new Promise<void>((resolve) => tcp.close(() => resolve())));

  it("an https URL speaks TLS", async () => {
    client = new LeanHttpClient();
    const answer = client.request(new URL(`https://127.0.0.1:${(tcp.address() as AddressInfo).port}/`), {}, 2000);
    await expect(answer).rejects.toThrow();
    expect((await firstBytes)[0]).toBe(0x16);
  }, 10_000);
});
