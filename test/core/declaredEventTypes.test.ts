import { describe, expect, it } from "vitest";
import { DeclaredEventTypes, shownType, type UndeclaredEventTypePolicy } from "../../src/core/declaredEventTypes.ts";
import { AppError } from "../../src/errors.ts";
import { createMetrics } from "../../src/observability/metrics.ts";
import { captureLogs } from "../helpers/capturedLogs.ts";
import { makeEvent } from "../helpers/events.ts";

// What happens to a new event of a type nobody declared, before anything is recorded: counted
// (never by type), logged once per type and instance with the type cut short and no payload,
// and — with UNDECLARED_EVENT_TYPES=reject — refused.

function world(undeclared: UndeclaredEventTypePolicy) {
  const { logger, records, lines } = captureLogs();
  const metrics = createMetrics();
  const types = new DeclaredEventTypes({
    declared: [{ name: "user.created", description: "A user was created." }],
    undeclared,
    logger,
    metrics,
  });
  const counted = async () =>
    Object.fromEntries(
      (await metrics.undeclaredEventTypes.get()).values.map((v) => [JSON.stringify(v.labels), v.value]),
    );
  return { types, logs: records, lines, counted };
}

const secret = { object: "user", id: "usr_1", email: "private.person@example.com" };

describe("DeclaredEventTypes.admit", () => {
  it.each(["deliver", "reject"] as const)(
    "lets a declared type through without a count or a line (%s)",
    async (policy) => {
      const { types, logs, counted } = world(policy);
      expect(() => types.admit(makeEvent({ type: "user.created" }))).not.toThrow();
      expect(await counted()).toEqual({});
      expect(logs).toEqual([]);
    },
  );

  it("deliver: lets an undeclared type through, counts every event, logs one WARN per type without the payload", async () => {
    const { types, logs, lines, counted } = world("deliver");
    for (let i = 0; i < 3; i += 1) types.admit(makeEvent({ type: "contact.evil-example.com", data: secret }));
    types.admit(makeEvent({ type: "user.created.v2" }));
    expect(await counted()).toEqual({ '{"action":"deliver"}': 4 });
    expect(logs).toEqual([
      expect.objectContaining({
        severity: "WARNING",
        eventType: "contact.evil-example.com",
        action: "deliver",
        message:
          "event type not declared in schemas/event-types.json: delivered, not added to Svix's catalog (logged once per type)",
      }),
      expect.objectContaining({ eventType: "user.created.v2" }),
    ]);
    expect(lines.join("\n")).not.toContain("private.person");
  });

  it("reject: refuses an undeclared type with undeclared_event_type (not retryable), a detail at /type, counted and logged once", async () => {
    const { types, logs, counted } = world("reject");
    const errors: unknown[] = [];
    for (let i = 0; i < 2; i += 1) {
      try {
        types.admit(makeEvent({ type: "contact.evil-example.com" }));
      } catch (error) {
        errors.push(error);
      }
    }
    expect(errors).toHaveLength(2);
    expect(errors[0]).toBeInstanceOf(AppError);
    expect(errors[0]).toMatchObject({
      code: "undeclared_event_type",
      retryable: false,
      message: 'Event type "contact.evil-example.com" is not declared in the relay\'s event-type catalog',
      details: [{ path: "/type", message: "must be a declared event type (schemas/event-types.json)" }],
    });
    expect(await counted()).toEqual({ '{"action":"reject"}': 2 });
    expect(logs).toEqual([
      expect.objectContaining({
        eventType: "contact.evil-example.com",
        action: "reject",
        message: "event type not declared in schemas/event-types.json: refused (logged once per type)",
      }),
    ]);
  });

  it("cuts a long type to 64 characters, whole code points, in the line and in the error", () => {
    const long = `${"✓".repeat(63)}😀${"x".repeat(190)}`;
    expect(shownType(long)).toBe(`${"✓".repeat(63)}😀…`);
    expect(shownType("a".repeat(64))).toBe("a".repeat(64));
    const { types, logs } = world("reject");
    expect(() => types.admit(makeEvent({ type: long }))).toThrow(`"${"✓".repeat(63)}😀…"`);
    expect(logs[0]!.eventType).toBe(`${"✓".repeat(63)}😀…`);
  });

  it("logs at most 1,000 types one by one, then one line saying so, and keeps counting every event", async () => {
    const { types, logs, counted } = world("deliver");
    for (let i = 0; i < 1_200; i += 1) types.admit(makeEvent({ type: `made.up-${i}` }));
    for (let i = 0; i < 1_200; i += 1) types.admit(makeEvent({ type: `made.up-${i}` }));
    expect(logs).toHaveLength(1_001);
    expect(logs.at(-1)).toMatchObject({
      level: "warn",
      undeclaredTypes: 1000,
      message:
        "more undeclared event types than are logged one by one; relay_undeclared_event_types_total keeps counting",
    });
    expect(new Set(logs.slice(0, 1000).map((l) => l.eventType)).size).toBe(1000);
    expect(await counted()).toEqual({ '{"action":"deliver"}': 2_400 });
  });
});
