import { describe, expect, it } from "vitest";
import { AppError } from "../errors.ts";
import { makeEvent } from "../../test/helpers/events.ts";
import { parseEvent } from "./event.ts";

const REQUIRED = ["object", "id", "data", "datacontenttype", "project", "source", "specversion", "time", "type", "version"] as const;

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

  it("requires object to be \"event\", data an object, time a date-time, and strings to be strings", () => {
    const details = violations({ ...makeEvent(), object: "user", data: [], time: "2022-13-45", version: 2023 });
    expect(details.map((d) => d.path).sort()).toEqual(["/data", "/object", "/time", "/version"]);
  });

  it("accepts date-times with offsets and fractions, rejects dates alone", () => {
    expect(violations(makeEvent({ time: "2022-03-16T14:12:42.123+01:00" }))).toEqual([]);
    expect(violations(makeEvent({ time: "2022-03-16" }))).toEqual([{ path: "/time", message: 'must match format "date-time"' }]);
  });

  it("rejects empty id, project and type (they key idempotency and the Svix application)", () => {
    expect(violations(makeEvent({ id: "", project: "", type: "" })).map((d) => d.path).sort()).toEqual(["/id", "/project", "/type"]);
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
