import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { makeEvent } from "../helpers/events.ts";
import { startHarness, type Harness } from "../helpers/relayHarness.ts";

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ SVIX_MAX_RETRIES: "0", CIRCUIT_FAILURE_THRESHOLD: "1000" });
});
afterAll(() => h.close());
beforeEach(() => h.emulator.reset());

describe("POST /notifications/:eventId/replay", () => {
  it("delivers a rejected notification once what Svix refused is fixed, recording a replay attempt", async () => {
    h.emulator.faults.add({ kind: "status", status: 400, operation: "message.create", times: 1 });
    const event = makeEvent();
    await h.http.post("/notifications").send(event).expect(422);
    await h.http.post("/notifications").send(event).expect(422);
    const res = await h.http.post(`/notifications/${event.id}/replay`).expect(202);
    expect(res.body.data).toMatchObject({ eventId: event.id, status: "delivered", duplicate: false });
    const stored = (await h.http.get(`/notifications/${event.id}`).expect(200)).body.data;
    expect(stored.status).toBe("delivered");
    expect(stored.attempts.map((a: { trigger: string; outcome: string }) => `${a.trigger}:${a.outcome}`)).toEqual(["ingress:ok", "ingress:rejected", "replay:delivered"]);
    await h.http.post("/notifications").send(event).expect(200);
    expect(h.emulator.state.allMessages()).toHaveLength(1);
  });

  it("refuses a delivered notification (409) and an unknown one (404)", async () => {
    const event = makeEvent();
    await h.http.post("/notifications").send(event).expect(202);
    expect((await h.http.post(`/notifications/${event.id}/replay`).expect(409)).body.error.code).toBe("already_delivered");
    expect((await h.http.post("/notifications/evt_nothing/replay").expect(404)).body.error.code).toBe("not_found");
    expect(h.emulator.state.allMessages()).toHaveLength(1);
  });

  it("delivers a failed notification now, whatever its backoff", async () => {
    h.emulator.faults.add({ kind: "status", status: 503, operation: "message.create", times: 1 });
    const event = makeEvent();
    await h.http.post("/notifications").send(event).expect(503);
    await h.http.post(`/notifications/${event.id}/replay`).expect(202);
    expect(h.emulator.state.allMessages()).toHaveLength(1);
  });
});
