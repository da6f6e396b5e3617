import { createHash } from "node:crypto";
import type { Request } from "express";
import { describe, expect, it } from "vitest";
import { crossSite, DashboardGate } from "../../src/dashboard/gate.ts";
import { systemClock } from "../../src/core/ports/clock.ts";
import { html } from "../../src/dashboard/html.ts";
import { safeNext } from "../../src/dashboard/middleware.ts";
import { sessionKey, signSession, verifySession } from "../../src/dashboard/session.ts";
import { startHarness } from "../helpers/relayHarness.ts";
import { csrfOf } from "./dashboardClient.ts";

const A = "operator-token-a-0123456789";
const B = "operator-token-b-0123456789";

/** Just what the gate reads of a request: its headers. */
function request(headers: Record<string, string>): Request {
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  return { header: (name: string) => lower[name.toLowerCase()], secure: false } as unknown as Request;
}

describe("html", () => {
  it("escapes every interpolation, joins arrays, and keeps nested html as it is", () => {
    const evil = `<script>alert("x")</script>'&\``;
    expect(html`<p title="${evil}">${evil}</p>`.value).toBe(
      '<p title="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39;&amp;&#96;">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39;&amp;&#96;</p>',
    );
    expect(html`<ul>${["<a>", html`<li>${"<b>"}</li>`]}</ul>`.value).toBe("<ul>&lt;a&gt;<li>&lt;b&gt;</li></ul>");
    expect(html`${null}${undefined}${false}${0}`.value).toBe("0");
  });
});

describe("sessions", () => {
  it("are keyed by the operator tokens, in any order; changing them ends every session", () => {
    const now = Date.now();
    const key = sessionKey([A, B])!;
    expect(sessionKey([B, A])!.equals(key)).toBe(true);
    const value = signSession(key, Math.floor(now / 1000) + 60, "n".repeat(32));
    expect(verifySession(key, value, now)).toMatchObject({ nonce: "n".repeat(32) });
    expect(verifySession(sessionKey([A])!, value, now)).toBeUndefined();
    expect(verifySession(key, value, now + 61_000)).toBeUndefined();
  });

  it("cannot be had without an operator token configured, even with the key an empty list would give", () => {
    expect(sessionKey([])).toBeUndefined();
    const publicKey = createHash("sha256").update("relay-dashboard-session\0").digest();
    const forged = signSession(publicKey, Math.floor(Date.now() / 1000) + 60, "n".repeat(32));
    const gate = new DashboardGate({ operatorTokens: [], open: false, clock: systemClock });
    expect(gate.loginPossible).toBe(false);
    expect(gate.viewer(request({ cookie: `relay_session=${forged}` }))).toBeUndefined();
  });
});

describe("cross-site posts", () => {
  it("are told by Sec-Fetch-Site or an Origin that is not this host", () => {
    expect(crossSite(request({ host: "relay.example" }))).toBe(false);
    expect(
      crossSite(request({ host: "relay.example", origin: "https://relay.example", "sec-fetch-site": "same-origin" })),
    ).toBe(false);
    expect(
      crossSite(
        request({ host: "10.0.0.1:8080", "x-forwarded-host": "relay.example", origin: "https://relay.example" }),
      ),
    ).toBe(false);
    expect(crossSite(request({ host: "relay.example", origin: "https://evil.example" }))).toBe(true);
    expect(crossSite(request({ host: "relay.example", origin: "null" }))).toBe(true);
    expect(crossSite(request({ host: "relay.example", "sec-fetch-site": "cross-site" }))).toBe(true);
    expect(crossSite(request({ host: "relay.example", "sec-fetch-site": "same-site" }))).toBe(true);
  });

  it("cannot be steered off the dashboard after logging in", () => {
    expect(safeNext("/dashboard/projects/acme?replayed=1-1-0-0")).toBe("/dashboard/projects/acme?replayed=1-1-0-0");
    for (const bad of [
      "/dashboardx",
      "//evil",
      "/dashboard//evil",
      "/dashboard/../x",
      "/dashboard\\x",
      "https://x/dashboard",
      "/dashboard/ x",
      undefined,
    ]) {
      expect(safeNext(bad)).toBe("/dashboard");
    }
  });
});

describe("open mode (development, no credential configured)", () => {
  it("needs no login, says so, and still wants the CSRF token on posts", async () => {
    const h = await startHarness({ SVIX_MAX_RETRIES: "0" });
    try {
      const page = (await h.http.get("/dashboard").expect(200)).text;
      expect(page).toContain("Open mode");
      expect(page).not.toContain("Log out");
      await h.http.post("/dashboard/notifications/evt_x/replay").type("form").send({}).expect(403);
      await h.http
        .post("/dashboard/notifications/evt_x/replay")
        .type("form")
        .send({ csrf: csrfOf((await h.http.get("/dashboard/projects/acme").expect(200)).text) })
        .expect(404);
    } finally {
      await h.close();
    }
  });
});
