import { EventEmitter, once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import express, { type Request, type Response } from "express";
import { afterEach, describe, expect, it } from "vitest";
import { admission, type AdmissionOptions } from "../../src/http/admission.ts";

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * A real server: admission in front of a handler that holds each request open until the test
 * releases it. Every request is named by its x-name header.
 */
async function relay(options: Omit<AdmissionOptions, "onShed">) {
  const events = new EventEmitter();
  const emit = (what: string) => {
    events.emit("any", what);
    events.emit(what);
  };
  const entered: string[] = [];
  const inside = new Set<string>();
  let mostInside = 0;
  const releases = new Map<string, () => void>();
  const shedSeen: boolean[] = [];
  let sheds = 0;
  const app = express();
  app.post(
    "/notifications",
    (req: Request, res: Response, next) => {
      const name = String(req.header("x-name"));
      if (name !== "no-id") req.id = `req-${name}`;
      res.once("close", () => {
        // Before admission's own close listener, which may let the next one in at once.
        inside.delete(name);
        shedSeen.push(res.locals.shed === true);
        emit(`closed:${name}`);
      });
      next();
      // admission has decided by now: admitted (handler entered) or waiting or shed.
      emit(`decided:${name}`);
    },
    admission({
      ...options,
      onShed: () => {
        sheds += 1;
      },
    }),
    (req: Request, res: Response) => {
      const name = String(req.header("x-name"));
      entered.push(name);
      inside.add(name);
      mostInside = Math.max(mostInside, inside.size);
      releases.set(name, () => {
        req.resume();
        res.status(200).send(`done ${name}`);
      });
      emit(`entered:${name}`);
    },
  );
  const server = http.createServer(app);
  server.listen(0);
  await once(server, "listening");
  const port = (server.address() as AddressInfo).port;
  servers.push(server);

  const clients = new Map<string, http.ClientRequest>();
  /** Sends a post; `bytes` is its Content-Length, or "chunked" for a body of unknown length. */
  function post(name: string, bytes: number | "chunked"): Promise<Answer> {
    const headers: http.OutgoingHttpHeaders = { "x-name": name, "content-type": "application/json" };
    if (bytes !== "chunked") headers["content-length"] = bytes;
    const client = http.request({ port, method: "POST", path: "/notifications", headers, agent: false });
    clients.set(name, client);
    const answer = new Promise<Answer>((resolve, reject) => {
      client.once("response", (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (body += chunk));
        res.once("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      });
      client.once("error", reject);
    });
    // Requests left open are cut when the server closes after the test: not an error then.
    answer.catch(() => undefined);
    if (bytes === "chunked") client.write("x".repeat(10));
    else client.end("x".repeat(bytes));
    return answer;
  }
  const happened = new Set<string>();
  events.on("any", (what: string) => happened.add(what));
  /** Resolves once `what` has happened (at once if it already has). */
  const event = (what: string) =>
    happened.has(what)
      ? Promise.resolve()
      : within(
          once(events, what).then(() => undefined),
          what,
        );
  return {
    post,
    entered,
    sheds: () => sheds,
    shedSeen,
    mostInside: () => mostInside,
    decided: (name: string) => event(`decided:${name}`),
    enteredHandler: (name: string) => event(`entered:${name}`),
    closed: (name: string) => event(`closed:${name}`),
    release: (name: string) => {
      const release = releases.get(name);
      if (!release) throw new Error(`${name} is not in the handler`);
      release();
    },
    /** The client goes away: its socket is destroyed. */
    abandon: (name: string) => clients.get(name)!.destroy(),
  };
}

const servers: http.Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** Fails instead of hanging when an expected event never comes. */
function within<T>(promise: Promise<T>, what: string, ms = 5_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

describe("admission: shedding past maxInFlight", () => {
  it("answers 503 overloaded with Retry-After: 1 at once, and counts each shed post", async () => {
    const r = await relay({ maxInFlight: 2, largeBodyBytes: 1_000, maxLargeInFlight: 1 });
    const a = r.post("a", 10);
    await r.enteredHandler("a");
    const b = r.post("b", 10);
    await r.enteredHandler("b");

    const shed = await within(r.post("c", 10), "the shed answer");
    expect(shed.status).toBe(503);
    expect(shed.headers["retry-after"]).toBe("1");
    expect(JSON.parse(shed.body)).toEqual({
      error: {
        code: "overloaded",
        message: "The relay is at capacity; try again shortly",
        details: [],
        requestId: "req-c",
      },
    });
    expect(r.sheds()).toBe(1);
    // Without a request id of ours, the answer still has the field, empty.
    expect(JSON.parse((await r.post("no-id", 10)).body).error.requestId).toBe("");
    expect(r.sheds()).toBe(2);
    expect(r.entered).toEqual(["a", "b"]);

    r.release("a");
    r.release("b");
    expect((await a).status).toBe(200);
    expect((await b).status).toBe(200);
    // Marked for the request logger (summarized, not logged per request): only the shed one.
    await r.closed("c");
    await r.closed("no-id");
    expect(r.shedSeen.filter(Boolean)).toHaveLength(2);
  });

  it("frees a place when an admitted response closes, so the next post is admitted", async () => {
    const r = await relay({ maxInFlight: 1, largeBodyBytes: 1_000, maxLargeInFlight: 1 });
    for (const name of ["a", "b", "c"]) {
      const answer = r.post(name, 10);
      await r.enteredHandler(name);
      const closed = r.closed(name);
      r.release(name);
      expect((await answer).body).toBe(`done ${name}`);
      await closed;
    }
    expect(r.entered).toEqual(["a", "b", "c"]);
    expect(r.sheds()).toBe(0);
  });
});

describe("admission: large bodies take turns", () => {
  it("lets one large body in at a time (Content-Length at the threshold is large) while small ones pass", async () => {
    const r = await relay({ maxInFlight: 10, largeBodyBytes: 100, maxLargeInFlight: 1 });
    const l1 = r.post("l1", 100);
    await r.enteredHandler("l1");
    const l2 = r.post("l2", 100);
    await r.decided("l2");
    expect(r.entered).toEqual(["l1"]);

    // A small body is not held up by the large one, and its end does not let a large one in.
    const s = r.post("s", 99);
    await r.enteredHandler("s");
    const sClosed = r.closed("s");
    r.release("s");
    expect((await s).status).toBe(200);
    await sClosed;
    expect(r.entered).toEqual(["l1", "s"]);

    r.release("l1");
    await r.enteredHandler("l2");
    r.release("l2");
    expect((await l1).status).toBe(200);
    expect((await l2).status).toBe(200);
  });

  it("treats a body of unknown length (chunked) as large", async () => {
    const r = await relay({ maxInFlight: 10, largeBodyBytes: 1_000, maxLargeInFlight: 1 });
    const l1 = r.post("l1", 5_000);
    await r.enteredHandler("l1");
    void r.post("chunked", "chunked");
    await r.decided("chunked");
    expect(r.entered).toEqual(["l1"]);
    r.release("l1");
    await r.enteredHandler("chunked");
    expect((await l1).status).toBe(200);
  });

  it("admits waiting large bodies in arrival order, never more than maxLargeInFlight at once", async () => {
    const r = await relay({ maxInFlight: 10, largeBodyBytes: 100, maxLargeInFlight: 1 });
    const names = ["l1", "l2", "l3", "l4"];
    const answers = [];
    for (const name of names) {
      answers.push(r.post(name, 200));
      await r.decided(name);
    }
    for (const name of names) {
      await r.enteredHandler(name);
      expect(r.entered.at(-1)).toBe(name);
      r.release(name);
    }
    expect((await Promise.all(answers)).map((a) => a.status)).toEqual([200, 200, 200, 200]);
    expect(r.entered).toEqual(names);

    // Once the turns are over, it is still one at a time.
    const _a = r.post("a", 200);
    await r.enteredHandler("a");
    void r.post("b", 200);
    await r.decided("b");
    expect(r.entered.slice(4)).toEqual(["a"]);
    expect(r.mostInside()).toBe(1);
    r.release("a");
    await r.enteredHandler("b");
  });

  it("drops a waiting body whose client went away; the next one in the queue gets its turn", async () => {
    const r = await relay({ maxInFlight: 10, largeBodyBytes: 100, maxLargeInFlight: 1 });
    const l1 = r.post("l1", 200);
    await r.enteredHandler("l1");
    const l2 = r.post("l2", 200).then(
      () => "answered",
      () => "cut",
    );
    await r.decided("l2");
    const l3 = r.post("l3", 200);
    await r.decided("l3");

    const l2Closed = r.closed("l2");
    r.abandon("l2");
    await l2Closed;
    expect(await l2).toBe("cut");

    r.release("l1");
    await r.enteredHandler("l3");
    r.release("l3");
    expect((await l1).status).toBe(200);
    expect((await l3).status).toBe(200);
    expect(r.entered).toEqual(["l1", "l3"]);
  });
});
