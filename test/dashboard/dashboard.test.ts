import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { signSession, sessionKey } from "../../src/dashboard/session.ts";
import { DeliveryEventStore } from "../../src/db/deliveryEventStore.ts";
import { makeEvent, wrapped } from "../helpers/events.ts";
import { startHarness, type Harness } from "../helpers/relayHarness.ts";
import { csrfOf, logIn, pageOf } from "./dashboardClient.ts";

const OPERATOR = "operator-token-dashboard-0123";
const INGEST = "ingest-token-dashboard-01234";
const asIngest = { authorization: `Bearer ${INGEST}` };
let h: Harness;

beforeAll(async () => {
  h = await startHarness({
    SVIX_MAX_RETRIES: "0",
    CIRCUIT_FAILURE_THRESHOLD: "1000",
    API_TOKENS: OPERATOR,
    INGEST_TOKENS: INGEST,
  });
});
afterAll(() => h.close());
beforeEach(() => h.emulator.reset());

const uniqueProject = () => `dash-${randomUUID().slice(0, 8)}`;

/** Events Svix fails on (503): the relay queues them, with the reason. */
async function queuedEvents(project: string, count: number) {
  h.emulator.faults.add({ kind: "status", status: 503, operation: "message.create" });
  const events = Array.from({ length: count }, () => makeEvent({ project }));
  for (const event of events) await h.http.post("/notifications").set(asIngest).send(event).expect(202);
  h.emulator.faults.clear();
  return events;
}

const statusOf = async (eventId: string) => (await h.container.store.summary(eventId))?.status;

describe("without a session", () => {
  it("shows the login form and no data, with the pages' security headers", async () => {
    const project = uniqueProject();
    const [event] = await queuedEvents(project, 1);
    for (const path of ["/dashboard", "/dashboard/quarantine"]) {
      const res = await h.http.get(path).expect(401);
      expect(res.text).toContain('type="password" name="token"');
      expect(res.text).not.toContain(project);
      expect(res.text).not.toContain(event!.id);
      expect(res.text).not.toContain("svix_unavailable");
      expect(res.headers["set-cookie"]).toBeUndefined();
      expect(res.headers["content-security-policy"]).toMatch(
        /default-src 'none'; style-src 'sha256-[^']+'; form-action 'self'; frame-ancestors 'none'/,
      );
      expect(res.headers["x-frame-options"]).toBe("DENY");
      expect(res.headers["cache-control"]).toBe("no-store");
    }
    // A data page asked for by URL: still only the login form (the URL comes back only as where to go next).
    const detail = await h.http.get(`/dashboard/notifications/${event!.id}`).expect(401);
    expect(detail.text).not.toContain("svix_unavailable");
    expect(detail.text).not.toContain('class="s s-queued"');
  });

  it("refuses a wrong token with 401 and no cookie", async () => {
    const res = await h.http
      .post("/dashboard/login")
      .type("form")
      .send({ token: "not-the-operator-token-0000" })
      .expect(401);
    expect(res.text).toContain("That is not an operator token.");
    expect(res.headers["set-cookie"]).toBeUndefined();
    // Nor an ingest token: it may post events, not operate.
    await h.http.post("/dashboard/login").type("form").send({ token: INGEST }).expect(401);
  });
});

describe("logging in", () => {
  it("sets an HttpOnly, SameSite=Strict session cookie on /dashboard that is not the token", async () => {
    const res = await h.http
      .post("/dashboard/login")
      .type("form")
      .send({ token: OPERATOR, next: "/dashboard/quarantine" })
      .expect(303);
    expect(res.headers.location).toBe("/dashboard/quarantine");
    const setCookie = (res.headers["set-cookie"] as unknown as string[])[0]!;
    expect(setCookie).toMatch(/^relay_session=v1\.\d+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43};/);
    expect(setCookie).toContain("HttpOnly");
    expect(setCookie).toContain("SameSite=Strict");
    expect(setCookie).toContain("Path=/dashboard;");
    expect(setCookie).not.toContain("Secure");
    expect(setCookie).not.toContain(OPERATOR);
    expect(Buffer.from(setCookie).toString("base64url")).not.toContain(Buffer.from(OPERATOR).toString("base64url"));
    // Behind an https proxy the cookie is Secure.
    const https = await h.http
      .post("/dashboard/login")
      .set("x-forwarded-proto", "https")
      .type("form")
      .send({ token: OPERATOR })
      .expect(303);
    expect((https.headers["set-cookie"] as unknown as string[])[0]).toContain("Secure");
    // Never sent anywhere else: a next page off the dashboard is ignored.
    for (const next of ["https://evil.example/", "//evil.example/dashboard", "/dashboard/..//evil", "/notifications"]) {
      const r = await h.http.post("/dashboard/login").type("form").send({ token: OPERATOR, next }).expect(303);
      expect(r.headers.location).toBe("/dashboard");
    }
  });

  it("opens the dashboard and nothing else: the JSON API refuses the cookie", async () => {
    const project = uniqueProject();
    const [event] = await queuedEvents(project, 2);
    const cookie = await logIn(h, OPERATOR);
    const overview = await pageOf(h, cookie, "/dashboard");
    expect(overview).toContain(project);
    expect(overview).toContain("2 queued");
    await h.http.get("/notifications").set("cookie", cookie).expect(401);
    await h.http.get(`/notifications/${event!.id}`).set("cookie", cookie).expect(401);
    await h.http.post(`/notifications/${event!.id}/replay`).set("cookie", cookie).expect(401);
    expect(await statusOf(event!.id)).toBe("queued");
  });

  it("refuses forged, expired and tampered cookies", async () => {
    const cookie = await logIn(h, OPERATOR);
    const value = cookie.slice("relay_session=".length);
    const [, expires, nonce, mac] = value.split(".") as [string, string, string, string];
    const now = Math.floor(Date.now() / 1000);
    const key = sessionKey([OPERATOR])!;
    const refused = [
      `v1.${Number(expires) + 3600}.${nonce}.${mac}`, // a longer life, same signature
      `v1.${expires}.${nonce}.${mac.slice(0, -2)}${mac.endsWith("AA") ? "BB" : "AA"}`, // tampered signature
      `v1.${expires}.${randomUUID().replaceAll("-", "")}.${mac}`, // another nonce
      signSession(key, now - 10, nonce), // expired
      signSession(key, now + 30 * 86_400, nonce), // longer than any session of ours
      signSession(sessionKey(["some-other-token-0123456789"])!, now + 3600, nonce), // another key
      `v2.${expires}.${nonce}.${mac}`,
      OPERATOR, // the token itself is not a session
      "",
    ];
    for (const forged of refused) {
      const res = await h.http.get("/dashboard").set("cookie", `relay_session=${forged}`).expect(401);
      expect(res.text).toContain('name="token"');
    }
    // The same key and a fresh expiry is what a valid session is (the key never leaves the relay).
    await pageOf(h, `relay_session=${signSession(key, now + 3600, nonce)}`, "/dashboard");
  });

  it("logs out: the cookie is cleared", async () => {
    const cookie = await logIn(h, OPERATOR);
    const csrf = csrfOf(await pageOf(h, cookie, "/dashboard"));
    const res = await h.http.post("/dashboard/logout").set("cookie", cookie).type("form").send({ csrf }).expect(303);
    expect(res.headers.location).toBe("/dashboard/login");
    const cleared = (res.headers["set-cookie"] as unknown as string[])[0]!;
    expect(cleared).toMatch(/^relay_session=;/);
    expect(cleared).toContain("Path=/dashboard");
    expect(cleared).toMatch(/Expires=Thu, 01 Jan 1970/);
  });
});

describe("state-changing buttons", () => {
  it("replay nothing without the session's CSRF token or from another site, and replay with it", async () => {
    const project = uniqueProject();
    const [event] = await queuedEvents(project, 1);
    const cookie = await logIn(h, OPERATOR);
    const csrf = csrfOf(await pageOf(h, cookie, `/dashboard/projects/${project}`));
    const otherCsrf = csrfOf(await pageOf(h, await logIn(h, OPERATOR), "/dashboard"));
    expect(otherCsrf).not.toBe(csrf);
    const svixCalls = () => h.emulator.calls.filter((c) => c.operation === "message.create").length;
    const callsBefore = svixCalls();
    const replay = () => h.http.post(`/dashboard/notifications/${event!.id}/replay`).set("cookie", cookie).type("form");
    expect((await replay().send({}).expect(403)).text).toContain("nothing was done");
    await replay().send({ csrf: "" }).expect(403);
    await replay().send({ csrf: otherCsrf }).expect(403);
    await replay().set("origin", "https://evil.example").send({ csrf }).expect(403);
    await replay().set("origin", "null").send({ csrf }).expect(403);
    await replay().set("sec-fetch-site", "cross-site").send({ csrf }).expect(403);
    await h.http
      .post(`/dashboard/projects/${project}/replay`)
      .set("cookie", cookie)
      .type("form")
      .send({ which: "failed" })
      .expect(403);
    expect(svixCalls()).toBe(callsBefore);
    expect(await statusOf(event!.id)).toBe("queued");
    // Without a session a post gets the login form, and does nothing either.
    await h.http.post(`/dashboard/notifications/${event!.id}/replay`).type("form").send({ csrf }).expect(401);

    // A browser's post from our own page: its Origin is our host.
    const done = await replay()
      .set("host", "relay.example")
      .set("origin", "https://relay.example")
      .set("sec-fetch-site", "same-origin")
      .send({ csrf })
      .expect(303);
    expect(done.headers.location).toBe(`/dashboard/notifications/${event!.id}?replayed=1`);
    expect(await statusOf(event!.id)).toBe("delivered");
    const detail = await pageOf(h, cookie, done.headers.location!);
    expect(detail).toContain('<span class="s s-delivered">delivered</span>');
    expect(detail).toMatch(/replay.*message\.create/s);
    // Replaying it again is refused with the API's reason.
    expect((await replay().send({ csrf }).expect(409)).text).toContain("already_delivered");
  });

  it("replays a project's queued and failed notifications at once, and links its app portal", async () => {
    const project = uniqueProject();
    const events = await queuedEvents(project, 3);
    const cookie = await logIn(h, OPERATOR);
    const csrf = csrfOf(await pageOf(h, cookie, `/dashboard/projects/${project}`));
    const res = await h.http
      .post(`/dashboard/projects/${project}/replay`)
      .set("cookie", cookie)
      .type("form")
      .send({ csrf, which: "failed" })
      .expect(303);
    expect(res.headers.location).toBe(`/dashboard/projects/${project}?replayed=3-3-0-0`);
    expect(await pageOf(h, cookie, res.headers.location!)).toContain("Replayed 3: 3 delivered, 0 still failing");
    for (const e of events) expect(await statusOf(e.id)).toBe("delivered");

    const portal = await h.http
      .post(`/dashboard/projects/${project}/app-portal`)
      .set("cookie", cookie)
      .type("form")
      .send({ csrf })
      .expect(200);
    expect(portal.text).toMatch(
      new RegExp(`href="${h.emulator.url}/app-portal/login#key=[^"]+" rel="noreferrer noopener"`),
    );
    expect(h.emulator.state.findApp(project)).toBeDefined();
  });
});

describe("what the pages show", () => {
  it("escapes every value: event ids, types, Svix's errors, endpoint ids", async () => {
    const id = `evt_"><img src=x onerror=alert(1)>${randomUUID()}`;
    const project = uniqueProject();
    const event = makeEvent({ id, project, type: "<script>alert(1)</script>" });
    await h.http.post("/notifications").set(asIngest).send(event).expect(422);
    await new DeliveryEventStore({ prisma: h.container.db.prisma }).add({
      svixId: `msg_${randomUUID()}`,
      type: "endpoint.disabled",
      eventId: null,
      appUid: project,
      project,
      msgId: null,
      endpointId: "ep_<script>x</script>",
      responseStatus: 500,
      occurredAt: new Date(),
    });
    const cookie = await logIn(h, OPERATOR);
    for (const path of [
      `/dashboard/projects/${project}`,
      `/dashboard/notifications/${encodeURIComponent(id)}`,
      "/dashboard",
    ]) {
      const text = await pageOf(h, cookie, path);
      expect(text).not.toContain("<script>");
      expect(text).not.toContain("<img");
      expect(text).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    }
    const projectPage = await pageOf(h, cookie, `/dashboard/projects/${project}`);
    expect(projectPage).toContain("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;");
    expect(projectPage).toContain("ep_&lt;script&gt;x&lt;/script&gt;");
    expect(projectPage).toContain("endpoint disabled by Svix");
    expect(projectPage).toContain("Replay rejected");
  });

  it("shows the quarantine with its reasons, never the bodies, and finds events and projects", async () => {
    const body = wrapped({ hello: "jane.quarantined@example.com" });
    await h.http.post("/notifications").set(asIngest).send(body).expect(200);
    const cookie = await logIn(h, OPERATOR);
    const page = await pageOf(h, cookie, "/dashboard/quarantine");
    expect(page).toContain("invalid_event");
    expect(page).toContain(body.message.messageId);
    expect(page).not.toContain("jane.quarantined");
    expect(await pageOf(h, cookie, "/dashboard")).toMatch(/[1-9]\d* in the last hour/);

    const project = uniqueProject();
    const [event] = await queuedEvents(project, 1);
    const found = await h.http.get("/dashboard/find").query({ q: event!.id }).set("cookie", cookie).expect(303);
    expect(found.headers.location).toBe(`/dashboard/notifications/${event!.id}`);
    const byProject = await h.http
      .get("/dashboard/find")
      .query({ q: ` ${project} ` })
      .set("cookie", cookie)
      .expect(303);
    expect(byProject.headers.location).toBe(`/dashboard/projects/${project}`);
    // No payload on any page: the event's personal data stays in the ledger.
    expect(await pageOf(h, cookie, found.headers.location!)).not.toContain("jane.doe@example.com");
    await pageOf(h, cookie, "/dashboard/notifications/evt_unknown", 404);
    await pageOf(h, cookie, "/dashboard/nowhere", 404);
  });
});

describe("the ledger's counts behind the pages", () => {
  it("counts by project and status since a time, the busiest projects first, bounded", async () => {
    const since = new Date();
    const [busy, middle, quiet] = [uniqueProject(), uniqueProject(), uniqueProject()];
    await queuedEvents(busy, 3);
    for (const project of [middle, middle, quiet])
      await h.http.post("/notifications").set(asIngest).send(makeEvent({ project })).expect(200);
    const { store, quarantine } = h.container;
    const top = await store.countsByProject(since, { limit: 2 });
    expect(top.sort((a, b) => a.project.localeCompare(b.project) || a.status.localeCompare(b.status))).toEqual(
      [
        { project: busy, status: "queued", count: 3 },
        { project: middle, status: "delivered", count: 2 },
      ].sort((a, b) => a.project.localeCompare(b.project)),
    );
    expect(await store.countsByProject(since, { project: quiet })).toEqual([
      { project: quiet, status: "delivered", count: 1 },
    ]);
    expect(await store.countsByProject(new Date(Date.now() + 60_000))).toEqual([]);
    await h.http
      .post("/notifications")
      .set(asIngest)
      .send(wrapped({ not: "an event" }))
      .expect(200);
    expect(await quarantine.countSince(since)).toBe(1);
  });
});
