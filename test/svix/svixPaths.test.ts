import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { SvixCall } from "../../src/core/ports/svix.ts";
import { appUidFor } from "../../src/core/svixIdentifiers.ts";
import { SvixEmulator } from "../../src/emulator/svixEmulator.ts";
import { AppError } from "../../src/errors.ts";
import { createMetrics } from "../../src/observability/metrics.ts";
import { SdkSvixGateway } from "../../src/svix/svixGateway.ts";
import { makeEvent } from "../helpers/events.ts";
import { type Harness, startHarness } from "../helpers/relayHarness.ts";

// Every Svix path the relay builds stays where it was meant to go, whatever a caller puts in an
// event's project: a dot-segment ("..") used to be removed by the SDK's `new URL()`, sending
// `POST /api/v1/app/../msg` to `POST /api/v1/msg`. The emulator keeps each call's raw path.

const HOSTILE_PROJECTS: Array<[string, string]> = [
  ["two dots", ".."],
  ["one dot", "."],
  ["three dots", "..."],
  ["256 dots", ".".repeat(256)],
  ["a path with a dot-segment", "a/../b"],
  ["percent-encoded dots", "%2e%2e"],
  ["a percent-encoded slash", "a%2Fb"],
  ["a query", "?x"],
  ["a fragment", "#"],
  ["a space", "a b"],
  ["unicode", "prøject-ünïcode-✓"],
  ["a backslash", "..\\.."],
  ["dots and a slash", "../msg"],
];

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ SVIX_MAX_RETRIES: "0", CIRCUIT_FAILURE_THRESHOLD: "1000" });
});
afterAll(() => h.close());
beforeEach(() => h.emulator.reset());

/** The calls the emulator recorded that are not where `allowed` says a call may go. */
function strayCalls(allowed: (path: string) => boolean) {
  return h.emulator.calls.filter((c) => c.operation === "unmatched" || !allowed(c.path));
}

describe("a project id that is not a safe Svix path segment", () => {
  it.each(HOSTILE_PROJECTS)(
    "%s: every message goes to /api/v1/app/{its uid}/msg, one application, the same each time",
    async (_what, project) => {
      const uid = appUidFor(project);
      expect(uid).toMatch(/^prj_[0-9a-f]{40}$/);
      const first = makeEvent({ project });
      const second = makeEvent({ project });
      for (const event of [first, second]) {
        const res = await h.http.post("/notifications").send(event).expect(200);
        expect(res.body.data).toMatchObject({ status: "delivered", svixAppUid: uid });
      }
      const messagePath = `/api/v1/app/${encodeURIComponent(uid)}/msg`;
      expect(strayCalls((path) => path === messagePath)).toEqual([]);
      expect(h.emulator.calls.map((c) => `${c.method} ${c.path} ${c.status}`)).toEqual([
        `POST ${messagePath} 202`,
        `POST ${messagePath} 202`,
      ]);
      const apps = [...h.emulator.state.apps.values()];
      expect(apps).toHaveLength(1);
      // The application keeps the project's own name: the digest is only its address.
      expect(apps[0]).toMatchObject({ uid, name: project, metadata: { gigsProject: project } });
      expect(
        h.emulator.state
          .allMessages()
          .map((m) => [m.appUid, m.eventId])
          .sort(),
      ).toEqual(
        [
          [uid, first.id],
          [uid, second.id],
        ].sort(),
      );
    },
  );

  it("lands in one application per project even when projects that differ only in dots are mixed", async () => {
    const projects = [".", "..", "...", ".".repeat(256)];
    for (const project of projects) await h.http.post("/notifications").send(makeEvent({ project })).expect(200);
    const uids = projects.map(appUidFor);
    expect(new Set(uids).size).toBe(projects.length);
    expect([...h.emulator.state.apps.values()].map((a) => a.uid).sort()).toEqual([...uids].sort());
    expect(strayCalls((path) => uids.some((uid) => path === `/api/v1/app/${uid}/msg`))).toEqual([]);
  });

  it("keeps the uid of a project id that was safe before (dots among other characters included)", async () => {
    for (const project of ["acme-mobile", "a..b", ".hidden", "v1.2.3"]) {
      const res = await h.http.post("/notifications").send(makeEvent({ project })).expect(200);
      expect(res.body.data.svixAppUid).toBe(project);
      expect(h.emulator.state.findApp(project)).toMatchObject({ uid: project });
    }
    expect(strayCalls((path) => /^\/api\/v1\/app\/[^/]+\/msg$/.test(path))).toEqual([]);
  });
});

describe("the app-portal link of such a project", () => {
  it.each([
    ["two dots, encoded in the relay's URL", "%2E%2E", ".."],
    ["one dot, encoded", "%2e", "."],
    ["dots and a slash, encoded", "..%2Fmsg", "../msg"],
  ])("%s: goes to /api/v1/auth/app-portal-access/{its uid}", async (_what, inUrl, project) => {
    const uid = appUidFor(project);
    await h.http.post(`/projects/${inUrl}/app-portal`).send({}).expect(200);
    expect(strayCalls((path) => path === `/api/v1/auth/app-portal-access/${uid}`)).toEqual([]);
    expect(h.emulator.calls).toHaveLength(1);
    expect([...h.emulator.state.apps.values()]).toEqual([expect.objectContaining({ uid, name: project })]);
  });
});

describe("the gateway never sends a call whose URL would leave the path it was built for", () => {
  let emulator: SvixEmulator;
  let gateway: SdkSvixGateway;
  beforeAll(async () => {
    emulator = new SvixEmulator({ apiKey: "k" });
    gateway = new SdkSvixGateway({
      apiKey: "k",
      serverUrl: await emulator.start(),
      requestTimeoutMs: 3000,
      metrics: createMetrics(),
    });
  });
  afterAll(() => emulator.stop());

  const send = (appUid: string, onCall?: (call: SvixCall) => void) => {
    const event = makeEvent();
    return gateway
      .createMessage(
        {
          appUid,
          appName: "x",
          project: "x",
          eventType: event.type,
          eventId: event.id,
          idempotencyKey: `key-${event.id}`,
          payload: event,
        },
        { onCall },
      )
      .then(
        () => undefined,
        (e: unknown) => e,
      );
  };

  it.each([".", ".."])(
    "an application uid %j handed to it unchecked: refused for good, nothing sent, reported as a rejected call",
    async (appUid) => {
      emulator.reset();
      const calls: SvixCall[] = [];
      const error = await send(appUid, (c) => calls.push(c));
      expect(error).toBeInstanceOf(AppError);
      expect(error).toMatchObject({ code: "svix_rejected", retryable: false, upstreamStatus: undefined });
      expect((error as AppError).message).toContain("not sent");
      expect(emulator.calls).toEqual([]);
      expect(calls).toEqual([expect.objectContaining({ operation: "message.create", outcome: "rejected" })]);
    },
  );

  it("percent-encodes every segment it hands over: a uid of encoded dots stays one segment of its own", async () => {
    emulator.reset();
    await send("%2e%2e");
    // Svix refuses the uid (422: not its pattern), but the call went where it was built for.
    expect(emulator.calls.map((c) => `${c.path} ${c.status}`)).toEqual(["/api/v1/app/%252e%252e/msg 422"]);
  });
});
