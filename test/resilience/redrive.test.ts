import { afterEach, describe, expect, it } from "vitest";
import { makeEvent } from "../helpers/events.ts";
import { expectEachBetween } from "../helpers/ranges.ts";
import { startHarness, type Harness } from "../helpers/relayHarness.ts";

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe("the redrive loop", () => {
  it("delivers an event a crashed process left `received` (claimed, never sent), once its claim expired", async () => {
    h = await startHarness({ CIRCUIT_FAILURE_THRESHOLD: "1000" });
    const event = makeEvent();
    // What a process killed between its claim and its Svix call leaves behind.
    await h.container.store.insertClaimed(event, { kind: "body" }, "dead-process", new Date(Date.now() - 1000));
    expect(await h.container.redrive.tick()).toBe(1);
    const stored = (await h.http.get(`/notifications/${event.id}`).expect(200)).body.data;
    expect(stored.status).toBe("delivered");
    expect(stored.attempts.map((a: { trigger: string }) => a.trigger)).toEqual(["redrive", "redrive"]);
    expect(h.emulator.state.allMessages()).toHaveLength(1);
  });

  it("leaves a live claim alone", async () => {
    h = await startHarness();
    const event = makeEvent();
    await h.container.store.insertClaimed(event, { kind: "body" }, "live-process", new Date(Date.now() + 60_000));
    expect(await h.container.redrive.tick()).toBe(0);
    expect(h.emulator.calls).toHaveLength(0);
  });

  it("skips its turn while Svix has asked this instance to wait", async () => {
    h = await startHarness({ SVIX_MAX_RETRIES: "0", REDRIVE_BASE_DELAY_MS: "100" });
    h.emulator.faults.add({ kind: "status", status: 429, retryAfter: "3", operation: "message.create", times: 1 });
    await h.http.post("/notifications").send(makeEvent()).expect(429);
    const calls = h.emulator.calls.length;
    await new Promise((r) => setTimeout(r, 300));
    expect(await h.container.redrive.tick()).toBe(0);
    expect(h.emulator.calls.length).toBe(calls);
  });

  it("backs off exponentially per failed delivery, not per Svix call", async () => {
    h = await startHarness({ SVIX_MAX_RETRIES: "2", REDRIVE_BASE_DELAY_MS: "200", CIRCUIT_FAILURE_THRESHOLD: "1000" });
    h.emulator.faults.add({ kind: "status", status: 503, operation: "message.create" });
    const event = makeEvent();
    await h.http.post("/notifications").send(event).expect(503);
    const delays: number[] = [];
    for (let i = 0; i < 3; i += 1) {
      const row = await h.container.db.prisma.notification.findUniqueOrThrow({ where: { eventId: event.id } });
      expect(row.failures).toBe(i + 1);
      delays.push(row.nextAttemptAt!.getTime() - row.updatedAt.getTime());
      await new Promise((r) => setTimeout(r, Math.max(0, row.nextAttemptAt!.getTime() - Date.now()) + 20));
      await h.container.redrive.tick();
    }
    // base × 2^(n-1), jittered into [half, full]: 100–200, 200–400, 400–800 ms.
    expectEachBetween(delays, [[90, 210], [190, 410], [390, 810]]);
  });
});
