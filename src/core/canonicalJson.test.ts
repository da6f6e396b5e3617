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

  it("writes objects whose keys are in order, and arrays of scalars, as the sorting path would", () => {
    // Integer-like keys come first in an object's own order, not in sort() order.
    expect(canonicalJson({ 9: "a", 10: "b" })).toBe('{"10":"b","9":"a"}');
    expect(canonicalJson({ a: 1, b: undefined, c: 2 })).toBe('{"a":1,"c":2}');
    expect(canonicalJson({ a: 1, c: 2, b: 3 })).toBe('{"a":1,"b":3,"c":2}');
    expect(canonicalJson({ a: -0, b: Number.NaN, c: "é" })).toBe('{"a":0,"b":null,"c":"é"}');
    expect(canonicalJson(["b", 1, null, undefined, true])).toBe('["b",1,null,null,true]');
    const coverage = ["US", "DE", "FR"].map((countryCode) => ({ countryCode }));
    expect(canonicalJson({ plan: { coverage, name: "x" } })).toBe(
      '{"plan":{"coverage":[{"countryCode":"US"},{"countryCode":"DE"},{"countryCode":"FR"}],"name":"x"}}',
    );
  });

  it("writes, for random JSON, exactly what sorting every object's keys writes (the digests stored before stay valid)", () => {
    // The form every stored payload digest was computed with: keys sorted at every level.
    const reference = (v: unknown): string => {
      if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? "null" : reference(x))).join(",")}]`;
      if (v !== null && typeof v === "object") {
        const r = v as Record<string, unknown>;
        const keys = Object.keys(r)
          .sort()
          .filter((k) => r[k] !== undefined);
        return `{${keys.map((k) => `${JSON.stringify(k)}:${reference(r[k])}`).join(",")}}`;
      }
      return JSON.stringify(v) ?? "null";
    };
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const keys = ["a", "b", "c", "10", "9", "é", "A", "__proto__"];
    const value = (depth: number): unknown => {
      const pick = random();
      if (depth > 3 || pick < 0.4) return [1, -0, "x", null, true, 1.5e300, undefined][Math.floor(random() * 7)];
      if (pick < 0.7) return Array.from({ length: Math.floor(random() * 4) }, () => value(depth + 1));
      const entries = Array.from({ length: Math.floor(random() * 4) }, () => [
        keys[Math.floor(random() * keys.length)] as string,
        value(depth + 1),
      ]);
      return JSON.parse(JSON.stringify(Object.fromEntries(entries)) ?? "null");
    };
    for (let i = 0; i < 2000; i += 1) {
      const v = value(0);
      expect(canonicalJson(v)).toBe(reference(v));
    }
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
