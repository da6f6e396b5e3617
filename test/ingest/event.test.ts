import { describe, expect, it } from "vitest";
import { AppError } from "../../src/errors.ts";
import { makeEvent } from "../helpers/events.ts";
import { jsonDepth } from "../../src/core/canonicalJson.ts";
import { IDENTIFIER_RULE, isStorableIdentifier } from "../../src/core/event.ts";
import { MAX_EVENT_DEPTH, parseEvent } from "../../src/ingest/eventSchema.ts";

const REQUIRED = [
  "object",
  "id",
  "data",
  "datacontenttype",
  "project",
  "source",
  "specversion",
  "time",
  "type",
  "version",
] as const;

function rejection(value: unknown): AppError {
  try {
    parseEvent(value);
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }
  throw new Error("accepted");
}

function violations(value: unknown) {
  try {
    parseEvent(value);
    return [];
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe("invalid_event");
    return (error as AppError).details;
  }
}

describe("the event schema", () => {
  it("accepts a platform event and extra top-level fields, and returns it unchanged", () => {
    const event = { ...makeEvent(), extra: { kept: true } };
    expect(parseEvent(event)).toBe(event);
  });

  it.each(REQUIRED)("requires %s", (field) => {
    const { [field]: _removed, ...rest } = makeEvent();
    expect(violations(rest)).toEqual([{ path: `/${field}`, message: "is required" }]);
  });

  it('requires object to be "event", data an object, time a date-time, and strings to be strings', () => {
    const details = violations({ ...makeEvent(), object: "user", data: [], time: "2022-13-45", version: 2023 });
    expect(details.map((d) => d.path).sort()).toEqual(["/data", "/object", "/time", "/version"]);
  });

  it("accepts date-times with offsets and fractions, rejects dates alone", () => {
    expect(violations(makeEvent({ time: "2022-03-16T14:12:42.123+01:00" }))).toEqual([]);
    expect(violations(makeEvent({ time: "2022-03-16" }))).toEqual([
      { path: "/time", message: 'must match format "date-time"' },
    ]);
  });

  it("rejects empty id, project and type (they key idempotency and the Svix application)", () => {
    expect(
      violations(makeEvent({ id: "", project: "", type: "" }))
        .map((d) => d.path)
        .sort(),
    ).toEqual(["/id", "/project", "/type"]);
  });

  it("rejects non-objects", () => {
    for (const value of [null, 42, "event", [makeEvent()]]) expect(violations(value)).toHaveLength(1);
  });
});

describe("identifiers the ledger must store exactly", () => {
  it("rejects NUL and unpaired surrogates in id, project and type, but not in data", () => {
    expect(violations(makeEvent({ id: "evt\u0000x" })).map((d) => d.path)).toEqual(["/id"]);
    expect(violations(makeEvent({ project: "p\ud800" })).map((d) => d.path)).toEqual(["/project"]);
    expect(violations(makeEvent({ type: "t\udc00" })).map((d) => d.path)).toEqual(["/type"]);
    expect(violations(makeEvent({ id: "evt_😀", data: { note: "a\u0000b\ud800" } }))).toEqual([]);
  });
});

describe("what a rejection says", () => {
  it("counts the violations in its message, one or many", () => {
    expect(rejection({ ...makeEvent(), object: "user" }).message).toBe(
      "The event does not match the event schema (1 violation)",
    );
    expect(rejection({ ...makeEvent(), object: "user", id: "", time: "x" }).message).toBe(
      "The event does not match the event schema (3 violations)",
    );
  });

  it("names the rule broken, in words a caller can act on", () => {
    expect(violations({ ...makeEvent(), object: "user" })).toEqual([{ path: "/object", message: 'must be "event"' }]);
    expect(violations(makeEvent({ id: "evt\u0000" }))).toEqual([{ path: "/id", message: IDENTIFIER_RULE }]);
    expect(violations(makeEvent({ data: [] as never }))).toEqual([{ path: "/data", message: "must be object" }]);
    // The whole body: "/" rather than an empty path.
    expect(violations(42)).toEqual([{ path: "/", message: "must be object" }]);
  });
});

describe("the depth bound", () => {
  const nested = (levels: number): Record<string, unknown> => {
    let data: Record<string, unknown> = {};
    for (let i = 1; i < levels; i += 1) data = { d: data };
    return data;
  };
  it(`accepts an event nesting ${MAX_EVENT_DEPTH} levels and refuses one more, before the schema`, () => {
    const deepest = makeEvent({ data: nested(MAX_EVENT_DEPTH - 1) });
    expect(jsonDepth(deepest)).toBe(MAX_EVENT_DEPTH);
    expect(parseEvent(deepest)).toBe(deepest);
    // One level more, and invalid everywhere else too: only the depth is reported.
    const tooDeep = { ...makeEvent({ data: nested(MAX_EVENT_DEPTH) }), object: "user", id: "" };
    expect(jsonDepth(tooDeep)).toBe(MAX_EVENT_DEPTH + 1);
    const error = rejection(tooDeep);
    expect(error).toMatchObject({ code: "invalid_event", message: "The event nests deeper than 64 levels" });
    expect(error.details).toEqual([{ path: "/", message: "must not nest deeper than 64 levels" }]);
  });
});

describe("isStorableIdentifier (ids in paths and queries)", () => {
  it("takes 1 to 256 characters without NUL or unpaired surrogates", () => {
    expect(isStorableIdentifier("a")).toBe(true);
    expect(isStorableIdentifier("x".repeat(256))).toBe(true);
    expect(isStorableIdentifier("evt_😀")).toBe(true);
    expect(isStorableIdentifier("")).toBe(false);
    expect(isStorableIdentifier("x".repeat(257))).toBe(false);
    expect(isStorableIdentifier("a\u0000b")).toBe(false);
    expect(isStorableIdentifier("a\ud800")).toBe(false);
    expect(isStorableIdentifier("\udc00b")).toBe(false);
  });
});
