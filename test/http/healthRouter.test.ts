import express from "express";
import supertest from "supertest";
import { afterEach, describe, expect, it, vi } from "vitest";
import { healthRouter } from "../../src/http/healthRouter.ts";
import { systemClock } from "../../src/core/ports/clock.ts";

describe("/healthz", () => {
  it("answers 200 JSON {status: ok} without asking the database", async () => {
    const app = express().use(
      healthRouter({
        ping: async () => {
          throw new Error("down");
        },
        accepting: () => false,
        clock: systemClock,
        cacheMs: 0,
      }),
    );
    const res = await supertest(app)
      .get("/healthz")
      .expect(200)
      .expect("content-type", /^application\/json/);
    expect(res.body).toEqual({ status: "ok" });
  });
});

describe("/readyz", () => {
  afterEach(() => vi.useRealTimers());

  it("answers a flood of probes from one database check per window", async () => {
    let pings = 0;
    const app = express().use(
      healthRouter({
        ping: async () => {
          pings += 1;
        },
        accepting: () => true,
        clock: systemClock,
        cacheMs: 60_000,
      }),
    );
    const http = supertest(app);
    await Promise.all(Array.from({ length: 50 }, () => http.get("/readyz").expect(200)));
    expect(pings).toBe(1);
  });

  it("checks again once the window has passed, and reports a failed check as 503", async () => {
    let up = true;
    let pings = 0;
    const app = express().use(
      healthRouter({
        ping: async () => {
          pings += 1;
          if (!up) throw new Error("down");
        },
        accepting: () => true,
        clock: systemClock,
        cacheMs: 0,
      }),
    );
    const http = supertest(app);
    await http.get("/readyz").expect(200);
    up = false;
    await new Promise((r) => setTimeout(r, 5));
    expect((await http.get("/readyz").expect(503)).body).toMatchObject({ database: "unreachable" });
    expect(pings).toBe(2);
  });

  it("reuses a check for exactly cacheMs, and checks again the millisecond after", async () => {
    vi.useFakeTimers({ toFake: ["Date"], now: Date.parse("2026-10-01T00:00:00Z") });
    let pings = 0;
    const http = supertest(
      express().use(
        healthRouter({
          ping: async () => {
            pings += 1;
          },
          accepting: () => true,
          clock: systemClock,
          cacheMs: 1000,
        }),
      ),
    );
    await http.get("/readyz").expect(200);
    vi.setSystemTime(Date.parse("2026-10-01T00:00:01Z"));
    await http.get("/readyz").expect(200);
    expect(pings).toBe(1);
    vi.setSystemTime(Date.parse("2026-10-01T00:00:01.001Z"));
    await http.get("/readyz").expect(200);
    expect(pings).toBe(2);
  });

  it("answers each state with its exact body, showing the Svix check only when there is one", async () => {
    let up = true;
    let accepting = true;
    const options = {
      ping: async () => {
        if (!up) throw new Error("down");
      },
      accepting: () => accepting,
      clock: systemClock,
      cacheMs: 0,
    };
    const plain = supertest(express().use(healthRouter(options)));
    const withSvix = supertest(express().use(healthRouter({ ...options, svixStatus: () => "key_ok" })));
    expect((await plain.get("/readyz").expect(200)).body).toEqual({ status: "ready", database: "ok" });
    expect((await withSvix.get("/readyz").expect(200)).body).toEqual({
      status: "ready",
      database: "ok",
      svix: "key_ok",
    });
    up = false;
    expect((await plain.get("/readyz").expect(503)).body).toEqual({ status: "unavailable", database: "unreachable" });
    expect((await withSvix.get("/readyz").expect(503)).body).toEqual({
      status: "unavailable",
      database: "unreachable",
      svix: "key_ok",
    });
    accepting = false;
    expect((await withSvix.get("/readyz").expect(503)).body).toEqual({ status: "shutting_down" });
  });
});
