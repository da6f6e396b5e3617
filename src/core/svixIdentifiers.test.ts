import { describe, expect, it } from "vitest";
import { appUidFor, idempotencyKeyFor, isSafeSvixId, svixEventIdFor } from "./svixIdentifiers.ts";

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

  it("keeps every id Svix's pattern takes that is not only dots, whatever dots it also holds", () => {
    for (const id of ["a.b", ".hidden", "trailing.", "a..b", "..a", "-", "_", "v1.2.3"]) {
      expect(appUidFor(id), id).toBe(id);
      expect(svixEventIdFor(id), id).toBe(id);
    }
  });

  it("gives ids of dots only (dot-segments in a URL path) a digest, the same every time", () => {
    expect(appUidFor("..")).toBe("prj_5ec1f7e700f37c3d0b2981d04855fc34b94aaa15");
    expect(appUidFor(".")).toBe("prj_cdb4ee2aea69cc6a83331bbe96dc2caa9a299d21");
    expect(appUidFor("...")).toBe("prj_ab5df625bc76dbd4e163bed2dd888df828f90159");
    expect(appUidFor(".".repeat(256))).toBe("prj_128b7988706b783e52a0a8c29bbfc07e7ccaa591");
    expect(svixEventIdFor("..")).toBe("evt_5ec1f7e700f37c3d0b2981d04855fc34b94aaa15");
    expect(svixEventIdFor(".")).toBe("evt_cdb4ee2aea69cc6a83331bbe96dc2caa9a299d21");
  });

  it.each([
    ["..", false],
    [".", false],
    ["%2e%2e", false],
    ["a/../b", false],
    ["?x", false],
    ["#", false],
    ["a b", false],
    ["ünïcode", false],
    ["", false],
    ["a".repeat(257), false],
    ["a".repeat(256), true],
    ["acme-mobile", true],
    ["a..b", true],
  ])("isSafeSvixId(%j) is %s", (id, safe) => {
    expect(isSafeSvixId(id)).toBe(safe);
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

describe("a project named like a Svix application id", () => {
  it("gets a digest uid, so it can never address another customer's application", () => {
    const lookalike = `app_${"2Xk9".repeat(6)}abc`;
    expect(lookalike).toMatch(/^app_[0-9A-Za-z]{27}$/);
    expect(appUidFor(lookalike)).toMatch(/^prj_[0-9a-f]{40}$/);
    expect(appUidFor(lookalike)).toBe(appUidFor(lookalike));
    // Only that exact shape: every other app_ project keeps its name.
    expect(appUidFor("app_store")).toBe("app_store");
    expect(appUidFor(`${lookalike}x`)).toBe(`${lookalike}x`);
  });
});
