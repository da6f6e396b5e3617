import { describe, expect, it } from "vitest";
import { canonicalJson, jsonDepth } from "./canonicalJson.ts";

describe("canonicalJson", () => {
  it("sorts object keys at every level, and keeps array order", () => {
    expect(canonicalJson({ b: 1, a: { d: [3, 1], c: "x" } })).toBe('{"a":{"c":"x","d":[3,1]},"b":1}');
    expect(canonicalJson({ b: 1, a: 2 })).toBe(canonicalJson({ a: 2, b: 1 }));
  });

  it("writes what JSON.stringify writes: undefined members dropped, undefined in arrays as null", () => {
    const value = { a: undefined, b: [undefined, null, 1], c: "é\u0000" };
    expect(canonicalJson(value)).toBe('{"b":[null,null,1],"c":"é\\u0000"}');
    expect(JSON.parse(canonicalJson(value))).toEqual(JSON.parse(JSON.stringify(value)));
    expect(canonicalJson(undefined)).toBe("null");
    expect(canonicalJson(-0)).toBe(canonicalJson(0));
  });

  it("tells bodies apart that differ anywhere", () => {
    expect(canonicalJson({ a: [1, 2] })).not.toBe(canonicalJson({ a: [2, 1] }));
    expect(canonicalJson({ a: "1" })).not.toBe(canonicalJson({ a: 1 }));
    expect(canonicalJson({ "a,b": 1 })).not.toBe(canonicalJson({ a: 1, b: 1 }));
  });
});

describe("jsonDepth", () => {
  it("counts nesting levels: a scalar is 0, each object or array one more", () => {
    expect(jsonDepth("x")).toBe(0);
    expect(jsonDepth(null)).toBe(0);
    expect(jsonDepth({})).toBe(1);
    expect(jsonDepth([1, [2, [3]]])).toBe(3);
    expect(jsonDepth({ a: 1, b: { c: [{}] }, d: [] })).toBe(4);
  });

  it("keeps the deepest level seen when a shallower branch is walked after a deeper one", () => {
    // Walked last-in first-out: y's branch (3 levels) before x's (2).
    expect(jsonDepth({ x: {}, y: { z: {} } })).toBe(3);
    expect(jsonDepth([[[]], []])).toBe(3);
  });

  it("stops as soon as the depth passes the bound, returning a depth above it", () => {
    let deep: unknown = 1;
    for (let i = 0; i < 1000; i += 1) deep = [deep];
    expect(jsonDepth(deep)).toBe(1000);
    const stopped = jsonDepth(deep, 64);
    expect(stopped).toBe(65);
    expect(jsonDepth(deep, 1000)).toBe(1000);
  });
});
