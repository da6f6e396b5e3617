import { describe, expect, it } from "vitest";
import { type CheckInput, check } from "../../chaos/checker.ts";
import { appUidFor, svixEventIdFor } from "../../src/core/svixIdentifiers.ts";

const events = [
  { id: "evt_1", project: "acme" },
  { id: "evt_2", project: "acme" },
  { id: "evt 3/unsafe", project: "Beta Corp/EU" },
];
const inSvix = (e: { id: string; project: string }) => ({
  appUid: appUidFor(e.project),
  eventId: svixEventIdFor(e.id),
});

function input(overrides: Partial<CheckInput> = {}): CheckInput {
  return {
    events,
    svix: events.map(inSvix),
    poison: [
      { messageId: "m1", kind: "invalid_json" },
      { messageId: "m2", kind: "event_id_conflict" },
    ],
    quarantined: new Set(["m1", "m2", "m9"]),
    ledger: new Map(events.map((e) => [e.id, "delivered"])),
    unacked: 0,
    ...overrides,
  };
}

describe("the chaos checker", () => {
  it("passes a run where Svix holds every event once, by its Svix identifiers", () => {
    const result = check(input());
    expect(result.problems).toEqual([]);
    expect(result.ok).toBe(true);
    expect(result.inSvix).toBe(3);
  });

  it("finds a lost event", () => {
    const result = check(input({ svix: events.slice(1).map(inSvix) }));
    expect(result.lost).toEqual(["evt_1"]);
    expect(result.ok).toBe(false);
    expect(result.problems[0]).toContain("1 event(s) lost");
  });

  it("finds a duplicated event", () => {
    const result = check(input({ svix: [...events.map(inSvix), inSvix(events[2]!)] }));
    expect(result.duplicated).toEqual([{ eventId: "evt 3/unsafe", count: 2 }]);
    expect(result.ok).toBe(false);
  });

  it("finds a message that was not published, and one in another project's application", () => {
    const stray = { appUid: "acme", eventId: "evt_never" };
    const elsewhere = { appUid: "other", eventId: "evt_2" };
    const result = check(input({ svix: [...events.map(inSvix), stray, elsewhere] }));
    expect(result.foreign).toEqual([stray, elsewhere]);
    expect(result.ok).toBe(false);
  });

  it("does not count an event whose publishing failed as foreign", () => {
    const maybe = { appUid: "acme", eventId: "evt_maybe" };
    const result = check(input({ svix: [...events.map(inSvix), maybe], uncertain: new Set(["evt_maybe"]) }));
    expect(result.ok).toBe(true);
  });

  it("finds poison that is not in the quarantine", () => {
    const result = check(input({ quarantined: new Set(["m1"]) }));
    expect(result.unquarantined).toEqual([{ messageId: "m2", kind: "event_id_conflict" }]);
    expect(result.ok).toBe(false);
  });

  it("finds events the ledger does not show delivered, and fails when the ledger was not read", () => {
    const ledger = new Map([
      ["evt_1", "delivered"],
      ["evt_2", "queued"],
    ]);
    const result = check(input({ ledger }));
    expect(result.notDelivered).toEqual([
      { eventId: "evt_2", status: "queued" },
      { eventId: "evt 3/unsafe", status: "missing" },
    ]);
    expect(result.ok).toBe(false);
    expect(check(input({ ledger: undefined })).ok).toBe(false);
  });

  it("fails when messages were left unacknowledged", () => {
    const result = check(input({ unacked: 4 }));
    expect(result.ok).toBe(false);
    expect(result.problems).toEqual(["4 message(s) left unacknowledged on the subscriptions"]);
  });
});
