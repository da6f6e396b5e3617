import { expect } from "vitest";
import type { Harness } from "../helpers/relayHarness.ts";

/** The session cookie's `name=value`, from a Set-Cookie list. */
export function sessionCookie(setCookie: string[] | string | undefined): string | undefined {
  const list = Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : [];
  return list.find((c) => c.startsWith("relay_session="))?.split(";")[0];
}

/** The CSRF token a page's forms carry. */
export function csrfOf(page: string): string {
  const match = /name="csrf" value="([^"]+)"/.exec(page);
  expect(match, "the page has a form with a CSRF token").not.toBeNull();
  return match![1]!;
}

/** Logs in through the form, as a browser does; the cookie to send back. */
export async function logIn(h: Harness, token: string): Promise<string> {
  const res = await h.http.post("/dashboard/login").type("form").send({ token, next: "/dashboard" }).expect(303);
  const cookie = sessionCookie(res.headers["set-cookie"]);
  expect(cookie).toBeDefined();
  return cookie!;
}

/** A dashboard page's HTML, as the session sees it. */
export async function pageOf(h: Harness, cookie: string, path: string, status = 200): Promise<string> {
  const res = await h.http.get(path).set("cookie", cookie).expect(status);
  expect(res.headers["content-type"]).toMatch(/^text\/html/);
  return res.text;
}
