import { describe, expect, it } from "vitest";
import { appUidFor, idempotencyKeyFor, svixEventIdFor } from "./svixIdentifiers.ts";

// Golden values: these identifiers live on in Svix. If a release computed a different uid for a
// project, its events would go to a second application; a different key or eventId would let a
// redelivery after an upgrade create a second message. They must never change.
describe("Svix identifiers are stable across processes and releases", () => {
  it("keeps a project id Svix accepts as the application uid", () => {
    expect(appUidFor("acme-mobile")).toBe("acme-mobile");
    expect(appUidFor("a".repeat(256))).toBe("a".repeat(256));
  });

  it("gives a project id Svix cannot take the same digest uid, every time", () => {
    expect(appUidFor("Acme Mobile/EU ✓")).toBe("prj_be443779a43ead99d9743c916a1f9b7a7878901a");
    expect(appUidFor("a".repeat(257))).toMatch(/^prj_[0-9a-f]{40}$/);
    expect(appUidFor("")).toMatch(/^prj_[0-9a-f]{40}$/);
  });

  it("keeps an event id Svix accepts as the message eventId, and digests the others", () => {
    expect(svixEventIdFor("evt_0QKUq2KzDVGPcomnFvB7mW")).toBe("evt_0QKUq2KzDVGPcomnFvB7mW");
    expect(svixEventIdFor("evt with spaces/and slashes")).toBe("evt_acb6e7d5c1de352218545d869a09e4e47ffa4e71");
  });

  it("derives the idempotency key from project and event id, and from nothing else", () => {
    expect(idempotencyKeyFor("acme-mobile", "evt_123")).toBe("gigs-relay-msg-cc963af9b5e733564f95bf412fb0dfd419d5e402");
    // The separator keeps ("ab","c") and ("a","bc") apart.
    expect(idempotencyKeyFor("ab", "c")).not.toBe(idempotencyKeyFor("a", "bc"));
  });
});
