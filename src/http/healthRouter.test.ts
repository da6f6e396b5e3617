import express from "express";
import supertest from "supertest";
import { describe, expect, it } from "vitest";
import { healthRouter } from "./healthRouter.ts";

describe("/readyz", () => {
  it("answers a flood of probes from one database check per window", async () => {
    let pings = 0;
    const app = express().use(healthRouter({ ping: async () => void (pings += 1), accepting: () => true, cacheMs: 60_000 }));
    const http = supertest(app);
    await Promise.all(Array.from({ length: 50 }, () => http.get("/readyz").expect(200)));
    expect(pings).toBe(1);
  });

  it("checks again once the window has passed, and reports a failed check as 503", async () => {
    let up = true;
    let pings = 0;
    const app = express().use(healthRouter({ ping: async () => { pings += 1; if (!up) throw new Error("down"); }, accepting: () => true, cacheMs: 0 }));
    const http = supertest(app);
    await http.get("/readyz").expect(200);
    up = false;
    await new Promise((r) => setTimeout(r, 5));
    expect((await http.get("/readyz").expect(503)).body).toMatchObject({ database: "unreachable" });
    expect(pings).toBe(2);
  });
});
