import { afterEach, describe, expect, it } from "vitest";
import { SvixEmulator } from "../../src/emulator/svixEmulator.ts";
import { makeEvent, unwrappedHeaders, wrapped } from "../helpers/events.ts";
import { untilAcked } from "../helpers/redeliver.ts";
import { startHarness, type Harness } from "../helpers/relayHarness.ts";
import { waitFor } from "../helpers/waitFor.ts";
import { createPostgresDatabase, createTestDatabase, usingPostgres } from "../helpers/testDatabase.ts";

// Several relay instances on one database. On PostgreSQL each instance is a full container with
// its own connection pool, started at the same time (so their migrations race too). On the
// embedded database (one process only) the instances share the PGlite connection.
let teardown: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const fn of teardown.reverse()) await fn();
  teardown = [];
});

async function startInstances(
  count: number,
  env: Record<string, string>,
): Promise<{ instances: Harness[]; emulator: SvixEmulator }> {
  const emulator = new SvixEmulator({ apiKey: "test-key" });
  await emulator.start();
  teardown.push(() => emulator.stop());
  let shared: { databaseUrl?: string; database?: Awaited<ReturnType<typeof createTestDatabase>>["db"] };
  if (usingPostgres()) {
    const db = await createPostgresDatabase();
    teardown.push(db.drop);
    shared = { databaseUrl: db.url };
  } else {
    const db = await createTestDatabase();
    teardown.push(db.drop);
    shared = { database: db.db };
  }
  const instances = await Promise.all(Array.from({ length: count }, () => startHarness(env, { emulator, ...shared })));
  for (const i of instances) teardown.push(() => i.close());
  return { instances, emulator };
}

describe("two or more instances on one database", () => {
  it("turn 50 events sent to both at once, in every form, into 50 messages and 50 delivered rows", async () => {
    const { instances, emulator } = await startInstances(2, {});
    emulator.faults.add({ kind: "latency", minMs: 5, maxMs: 40, operation: "message.create" });
    const events = Array.from({ length: 50 }, (_, i) => makeEvent({ project: `tenant-${i % 5}` }));
    await Promise.all(
      events.flatMap((event, i) =>
        instances.map((instance, n) =>
          untilAcked(() => {
            const req = instance.http.post("/notifications");
            const form = (i + n) % 3;
            if (form === 0) return req.send(event);
            if (form === 1) return req.send(wrapped(event));
            return req.set(unwrappedHeaders()).send(event);
          }),
        ),
      ),
    );
    // A push is answered once its row is committed and delivered right after, so the last
    // deliveries may still be on their way when the last answer arrives.
    const settled = () =>
      instances[0]!.container.db.prisma.notification.count({ where: { status: "delivered", claimToken: null } });
    await waitFor(async () => (await settled()) === 50, 30_000, "50 delivered rows, none claimed");
    const messages = emulator.state.allMessages();
    expect(messages).toHaveLength(50);
    expect(new Set(messages.map((m) => m.eventId))).toEqual(new Set(events.map((e) => e.id)));
    expect(emulator.state.apps.size).toBe(5);
    expect(await instances[0]!.container.db.prisma.notification.count()).toBe(50);
  });

  it("the dispatchers of every instance at once send each queued notification once", async () => {
    const { instances, emulator } = await startInstances(2, {
      SVIX_MAX_RETRIES: "0",
      CIRCUIT_FAILURE_THRESHOLD: "1000",
    });
    emulator.faults.add({ kind: "status", status: 503, operation: "message.create" });
    const events = Array.from({ length: 20 }, () => makeEvent());
    for (const [i, event] of events.entries())
      await instances[i % 2]!.http.post("/notifications").send(event).expect(202);
    expect(await instances[0]!.container.db.prisma.notification.count({ where: { status: "queued" } })).toBe(20);

    emulator.faults.clear();
    emulator.faults.add({ kind: "latency", minMs: 5, maxMs: 30, operation: "message.create" });
    const createsBefore = emulator.calls.filter((c) => c.operation === "message.create").length;
    await instances[0]!.container.db.prisma.notification.updateMany({
      data: { nextAttemptAt: new Date(Date.now() - 1) },
    });
    for (let pass = 0; pass < 20; pass += 1) {
      await Promise.all(instances.flatMap((i) => [i.container.dispatcher.pass(), i.container.dispatcher.pass()]));
      const left = await instances[0]!.container.db.prisma.notification.count({
        where: { status: { not: "delivered" } },
      });
      if (left === 0) break;
    }
    expect(emulator.state.allMessages()).toHaveLength(20);
    const creates = emulator.calls.filter((c) => c.operation === "message.create").length - createsBefore;
    expect(creates).toBe(20);
    const attempts = await instances[0]!.container.db.prisma.deliveryAttempt.findMany({
      where: { trigger: "dispatch" },
    });
    expect(attempts).toHaveLength(20);
    expect(attempts.every((a) => a.outcome === "delivered")).toBe(true);
  });

  it("the background dispatcher delivers what an internal caller was told is queued, with no call inside a Retry-After window", async () => {
    const { instances, emulator } = await startInstances(2, {
      SVIX_MAX_RETRIES: "0",
      DISPATCH_ENABLED: "true",
      DISPATCH_INTERVAL_MS: "100",
    });
    emulator.faults.add({ kind: "status", status: 429, retryAfter: "1", operation: "message.create", times: 1 });
    const event = makeEvent();
    const answer = await instances[0]!.http.post("/notifications").send(event).expect(202);
    expect(answer.body.data.status).toBe("queued");
    const deadline = Date.now() + 10_000;
    let row = await instances[1]!.container.db.prisma.notification.findUnique({ where: { eventId: event.id } });
    while (row?.status !== "delivered" && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      row = await instances[1]!.container.db.prisma.notification.findUnique({ where: { eventId: event.id } });
    }
    expect(row?.status).toBe("delivered");
    expect(emulator.state.allMessages()).toHaveLength(1);
    // The queued row carries Svix's Retry-After, so no instance sends it inside the window.
    const [throttled, delivered] = await instances[0]!.container.db.prisma.deliveryAttempt.findMany({
      where: { eventId: event.id },
      orderBy: { startedAt: "asc" },
    });
    expect(throttled?.httpStatus).toBe(429);
    expect(delivered?.trigger).toBe("dispatch");
    expect(delivered!.startedAt.getTime()).toBeGreaterThanOrEqual(
      throttled!.startedAt.getTime() + throttled!.durationMs + 1000 - 2,
    );
  });
});
