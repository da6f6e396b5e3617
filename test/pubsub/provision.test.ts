import { spawn } from "node:child_process";
import { createServer, type IncomingHttpHeaders } from "node:http";
import { join } from "node:path";
import type { PubSub } from "@google-cloud/pubsub";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  DEAD_LETTER_RETENTION_SECONDS,
  describeAction,
  planFromFlags,
  provision,
  ProvisionInputError,
  type ProvisionFlags,
} from "../../src/pubsub/provision.ts";
import {
  publish,
  pullAndAck,
  startPubsubEmulator,
  type PubsubEmulator,
  type PulledMessage,
} from "../helpers/pubsubEmulator.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const PROJECT = "relay-provision";
const SERVICE_ACCOUNT = "relay-pusher@relay-provision.iam.gserviceaccount.com";

let emulator: PubsubEmulator;
let pubsub: PubSub;

beforeAll(async () => {
  emulator = await startPubsubEmulator({ projectId: PROJECT });
  pubsub = emulator.client();
});
afterAll(async () => {
  await emulator?.stop();
});

/** Flags for a plan of its own per test (the emulator is shared by the whole file). */
function flags(name: string, extra: ProvisionFlags = {}): ProvisionFlags {
  return {
    project: PROJECT,
    topic: `${name}-events`,
    subscription: `${name}-relay`,
    "push-endpoint": "http://127.0.0.1:9/notifications",
    ...extra,
  };
}

async function metadata(subscription: string) {
  const [meta] = await pubsub.subscription(subscription).getMetadata();
  return meta;
}

const seconds = (d: { seconds?: unknown } | null | undefined) => Number(String(d?.seconds));

describe("provision against the emulator", () => {
  it("creates everything once, then reports it unchanged, with every setting in place", async () => {
    const plan = planFromFlags(
      flags("full", {
        "service-account": SERVICE_ACCOUNT,
        "no-wrapper": true,
        "ack-deadline": "45",
        "min-backoff": "5s",
        "max-backoff": "2m",
        "max-delivery-attempts": "7",
      }),
    );
    const first = await provision(pubsub, plan, { dryRun: false });
    expect(first.map((a) => describeAction(a, false))).toEqual([
      `create topic projects/${PROJECT}/topics/full-events`,
      `create topic projects/${PROJECT}/topics/full-events-dead-letter`,
      `create subscription projects/${PROJECT}/subscriptions/full-events-dead-letter-sub`,
      `create subscription projects/${PROJECT}/subscriptions/full-relay`,
    ]);
    expect(first.every((a) => a.applied && a.fields.length === 0)).toBe(true);
    const second = await provision(pubsub, plan, { dryRun: false });
    expect(second).toEqual([
      { verb: "ok", resource: "topic", name: `projects/${PROJECT}/topics/full-events`, fields: [], applied: false },
      {
        verb: "ok",
        resource: "topic",
        name: `projects/${PROJECT}/topics/full-events-dead-letter`,
        fields: [],
        applied: false,
      },
      {
        verb: "ok",
        resource: "subscription",
        name: `projects/${PROJECT}/subscriptions/full-events-dead-letter-sub`,
        fields: [],
        applied: false,
      },
      {
        verb: "ok",
        resource: "subscription",
        name: `projects/${PROJECT}/subscriptions/full-relay`,
        fields: [],
        applied: false,
      },
    ]);
    // A dry run of a project already in place: nothing "would" happen.
    expect((await provision(pubsub, plan, { dryRun: true })).map((a) => describeAction(a, true))[0]).toBe(
      `ok topic projects/${PROJECT}/topics/full-events (unchanged)`,
    );
    expect(describeAction(second[3]!, false)).toBe(
      `ok subscription projects/${PROJECT}/subscriptions/full-relay (unchanged)`,
    );

    const push = await metadata("full-relay");
    expect(push.topic).toBe(`projects/${PROJECT}/topics/full-events`);
    expect(push.pushConfig?.pushEndpoint).toBe("http://127.0.0.1:9/notifications");
    // The audience defaults to the push endpoint: what the relay will check the token's aud against.
    expect(push.pushConfig?.oidcToken).toEqual({
      serviceAccountEmail: SERVICE_ACCOUNT,
      audience: "http://127.0.0.1:9/notifications",
    });
    expect(push.pushConfig?.noWrapper).toEqual({ writeMetadata: true });
    expect(push.ackDeadlineSeconds).toBe(45);
    expect([seconds(push.retryPolicy?.minimumBackoff), seconds(push.retryPolicy?.maximumBackoff)]).toEqual([5, 120]);
    expect(push.deadLetterPolicy).toEqual({
      deadLetterTopic: `projects/${PROJECT}/topics/full-events-dead-letter`,
      maxDeliveryAttempts: 7,
    });

    const [deadLetterTopicExists] = await pubsub.topic("full-events-dead-letter").exists();
    expect(deadLetterTopicExists).toBe(true);
    const deadLetters = await metadata("full-events-dead-letter-sub");
    expect(deadLetters.topic).toBe(`projects/${PROJECT}/topics/full-events-dead-letter`);
    expect(deadLetters.pushConfig?.pushEndpoint).toBe(""); // pull
    expect(seconds(deadLetters.messageRetentionDuration)).toBe(DEAD_LETTER_RETENTION_SECONDS);
  });

  it("restores settings changed by hand, and only those", async () => {
    const plan = planFromFlags(flags("drift"));
    await provision(pubsub, plan, { dryRun: false });
    await pubsub.subscription("drift-relay").setMetadata({ deadLetterPolicy: null, ackDeadlineSeconds: 99 });
    await pubsub
      .subscription("drift-events-dead-letter-sub")
      .setMetadata({ pushConfig: { pushEndpoint: "http://127.0.0.1:9/elsewhere" } });
    expect((await metadata("drift-relay")).deadLetterPolicy).toBeNull();

    const third = await provision(pubsub, plan, { dryRun: false });
    expect(third.map((a) => describeAction(a, false))).toEqual([
      `ok topic projects/${PROJECT}/topics/drift-events (unchanged)`,
      `ok topic projects/${PROJECT}/topics/drift-events-dead-letter (unchanged)`,
      `update subscription projects/${PROJECT}/subscriptions/drift-events-dead-letter-sub (pushConfig)`,
      `update subscription projects/${PROJECT}/subscriptions/drift-relay (ackDeadlineSeconds, deadLetterPolicy)`,
    ]);
    const push = await metadata("drift-relay");
    expect(push.ackDeadlineSeconds).toBe(30);
    expect(push.deadLetterPolicy).toEqual({
      deadLetterTopic: `projects/${PROJECT}/topics/drift-events-dead-letter`,
      maxDeliveryAttempts: 10,
    });
    expect([seconds(push.retryPolicy?.minimumBackoff), seconds(push.retryPolicy?.maximumBackoff)]).toEqual([10, 600]);
    expect((await metadata("drift-events-dead-letter-sub")).pushConfig?.pushEndpoint).toBe("");

    // A new endpoint and wrapping are one field, pushConfig, replaced whole.
    const moved = planFromFlags(
      flags("drift", { "push-endpoint": "https://relay.example.com/notifications", "no-wrapper": true }),
    );
    const fourth = await provision(pubsub, moved, { dryRun: false });
    expect(fourth[3]).toMatchObject({ verb: "update", fields: ["pushConfig"], applied: true });
    expect((await metadata("drift-relay")).pushConfig).toMatchObject({
      pushEndpoint: "https://relay.example.com/notifications",
      noWrapper: { writeMetadata: true },
    });
    expect((await provision(pubsub, moved, { dryRun: false })).every((a) => a.verb === "ok")).toBe(true);
  });

  // (An expiry set by hand cannot be tried: the emulator refuses to update expiration_policy.)
  it("notices a change by hand inside a setting: backoff bounds, delivery attempts, the token's audience and account", async () => {
    const plan = planFromFlags(flags("inner", { "service-account": SERVICE_ACCOUNT, audience: "relay" }));
    await provision(pubsub, plan, { dryRun: false });
    const sub = `projects/${PROJECT}/subscriptions/inner-relay`;
    const drifted = async (change: Record<string, unknown>, field: string) => {
      await pubsub.subscription("inner-relay").setMetadata(change);
      const actions = await provision(pubsub, plan, { dryRun: false });
      expect(actions[3], field).toEqual({
        verb: "update",
        resource: "subscription",
        name: sub,
        fields: [field],
        applied: true,
      });
      expect((await provision(pubsub, plan, { dryRun: false }))[3]?.verb, field).toBe("ok");
    };
    await drifted(
      { retryPolicy: { minimumBackoff: { seconds: 11 }, maximumBackoff: { seconds: 600 } } },
      "retryPolicy",
    );
    await drifted(
      { retryPolicy: { minimumBackoff: { seconds: 10 }, maximumBackoff: { seconds: 599 } } },
      "retryPolicy",
    );
    await drifted(
      {
        deadLetterPolicy: {
          deadLetterTopic: `projects/${PROJECT}/topics/inner-events-dead-letter`,
          maxDeliveryAttempts: 9,
        },
      },
      "deadLetterPolicy",
    );
    const endpoint = "http://127.0.0.1:9/notifications";
    await drifted(
      {
        pushConfig: { pushEndpoint: endpoint, oidcToken: { serviceAccountEmail: SERVICE_ACCOUNT, audience: "other" } },
      },
      "pushConfig",
    );
    await drifted(
      {
        pushConfig: {
          pushEndpoint: endpoint,
          oidcToken: { serviceAccountEmail: "someone@relay-provision.iam.gserviceaccount.com", audience: "relay" },
        },
      },
      "pushConfig",
    );
  });

  it("checks the plan before any call, whoever built it", async () => {
    const plan = { ...planFromFlags(flags("unchecked")), ackDeadlineSeconds: 5 };
    await expect(provision(pubsub, plan, { dryRun: false })).rejects.toThrow(
      new ProvisionInputError("--ack-deadline must be a whole number from 10 to 600 seconds, not 5"),
    );
    const [topics] = await pubsub.getTopics();
    expect(topics.map((t) => t.name).filter((n) => n.includes("/unchecked-"))).toEqual([]);
  });

  it("on a dry run, plans but changes nothing", async () => {
    const empty = await provision(pubsub, planFromFlags(flags("dry")), { dryRun: true });
    expect(empty.map((a) => describeAction(a, true))).toEqual([
      `would create topic projects/${PROJECT}/topics/dry-events`,
      `would create topic projects/${PROJECT}/topics/dry-events-dead-letter`,
      `would create subscription projects/${PROJECT}/subscriptions/dry-events-dead-letter-sub`,
      `would create subscription projects/${PROJECT}/subscriptions/dry-relay`,
    ]);
    expect(empty.every((a) => !a.applied)).toBe(true);
    const [topics] = await pubsub.getTopics();
    expect(topics.map((t) => t.name).filter((n) => n.includes("/dry-"))).toEqual([]);
    const [subscriptions] = await pubsub.getSubscriptions();
    expect(subscriptions.map((s) => s.name).filter((n) => n.includes("/dry-"))).toEqual([]);

    await provision(pubsub, planFromFlags(flags("dry")), { dryRun: false });
    await pubsub.subscription("dry-relay").setMetadata({ deadLetterPolicy: null });
    const before = await metadata("dry-relay");
    const planned = await provision(pubsub, planFromFlags(flags("dry", { "ack-deadline": "60" })), { dryRun: true });
    expect(describeAction(planned[3]!, true)).toBe(
      `would update subscription projects/${PROJECT}/subscriptions/dry-relay (ackDeadlineSeconds, deadLetterPolicy)`,
    );
    expect(await metadata("dry-relay")).toEqual(before);
  });

  it("refuses to touch a subscription attached to another topic", async () => {
    await provision(pubsub, planFromFlags(flags("elsewhere")), { dryRun: false });
    const other = planFromFlags(flags("elsewhere", { topic: "elsewhere-other" }));
    await expect(provision(pubsub, other, { dryRun: false })).rejects.toThrow(
      /elsewhere-relay is attached to .*elsewhere-events, not .*elsewhere-other/,
    );
  });
});

describe("what a provisioned subscription does", () => {
  it("pushes unwrapped with the x-goog-pubsub-* headers, and dead-letters what the endpoint refuses", async () => {
    const pushes: Array<{ body: string; headers: IncomingHttpHeaders }> = [];
    const endpoint = createServer((req, res) => {
      let body = "";
      req.on("data", (chunk: Buffer) => (body += chunk.toString()));
      req.on("end", () => {
        pushes.push({ body, headers: req.headers });
        res.writeHead(body.includes("refuse") ? 500 : 204).end();
      });
    });
    await new Promise<void>((resolve) => endpoint.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = endpoint.address() as { port: number };
      const plan = planFromFlags(
        flags("live", {
          "push-endpoint": `http://127.0.0.1:${port}/notifications`,
          "no-wrapper": true,
          "min-backoff": "0s",
          "max-backoff": "10s",
          "max-delivery-attempts": "5",
        }),
      );
      await provision(pubsub, plan, { dryRun: false });

      const acceptedId = await publish(emulator, "live-events", '{"object":"event","id":"evt_ok"}');
      const refusedId = await publish(emulator, "live-events", '{"object":"event","id":"evt_refuse"}');
      const deadline = Date.now() + 30_000;
      let deadLetters: PulledMessage[] = [];
      while (deadLetters.length === 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        deadLetters = await pullAndAck(emulator, "live-events-dead-letter-sub");
      }

      const accepted = pushes.find((p) => p.body.includes("evt_ok"));
      expect(accepted?.headers["x-goog-pubsub-message-id"]).toBe(acceptedId);
      expect(accepted?.headers["x-goog-pubsub-subscription-name"]).toBe(`projects/${PROJECT}/subscriptions/live-relay`);
      expect(accepted?.headers["x-goog-pubsub-publish-time"]).toMatch(/^\d{4}-\d\d-\d\dT/);
      expect(pushes.filter((p) => p.headers["x-goog-pubsub-message-id"] === refusedId)).toHaveLength(5);
      // The dead letter is a new message (new id) carrying the original data and where it came from.
      expect(deadLetters).toHaveLength(1);
      expect(deadLetters[0]!.data.toString()).toBe('{"object":"event","id":"evt_refuse"}');
      expect(deadLetters[0]!.attributes).toMatchObject({
        CloudPubSubDeadLetterSourceSubscription: "live-relay",
        CloudPubSubDeadLetterSourceDeliveryCount: "5",
      });
    } finally {
      endpoint.close();
    }
  });
});

describe("planFromFlags", () => {
  it("fills in the defaults", () => {
    expect(planFromFlags(flags("d"))).toEqual({
      projectId: PROJECT,
      topic: "d-events",
      subscription: "d-relay",
      pushEndpoint: "http://127.0.0.1:9/notifications",
      noWrapper: false,
      ackDeadlineSeconds: 30,
      minBackoffSeconds: 10,
      maxBackoffSeconds: 600,
      deadLetterTopic: "d-events-dead-letter",
      deadLetterSubscription: "d-events-dead-letter-sub",
      maxDeliveryAttempts: 10,
    });
    expect(planFromFlags(flags("d", { "service-account": SERVICE_ACCOUNT, audience: "relay" })).oidc).toEqual({
      serviceAccountEmail: SERVICE_ACCOUNT,
      audience: "relay",
    });
    expect(planFromFlags(flags("d", { "min-backoff": "1m", "max-backoff": "10m" }))).toMatchObject({
      minBackoffSeconds: 60,
      maxBackoffSeconds: 600,
    });
  });

  it.each<[string, ProvisionFlags, RegExp]>([
    ["a short topic", { topic: "ab" }, /--topic "ab"/],
    ["a topic starting with a digit", { topic: "1events" }, /--topic/],
    ["a reserved goog prefix", { subscription: "goog-relay" }, /--subscription/],
    ["a character outside the set", { subscription: "relay/x" }, /--subscription/],
    ["plain http to another host", { "push-endpoint": "http://relay.example.com/notifications" }, /must be https/],
    ["no URL at all", { "push-endpoint": "relay" }, /not a URL/],
    ["an ack deadline under 10 s", { "ack-deadline": "5" }, /--ack-deadline must be a whole number from 10 to 600/],
    ["a backoff over 600 s", { "max-backoff": "11m" }, /--max-backoff/],
    ["an unknown unit", { "min-backoff": "10h" }, /not a duration/],
    ["min backoff above max", { "min-backoff": "300s", "max-backoff": "60s" }, /exceeds --max-backoff/],
    ["too few delivery attempts", { "max-delivery-attempts": "4" }, /from 5 to 100/],
    ["an audience without an account", { audience: "relay" }, /--audience needs --service-account/],
    ["a dead-letter topic equal to the topic", { "dead-letter-topic": "bad-events" }, /must differ/],
  ])("refuses %s", (_label, extra, message) => {
    expect(() => planFromFlags(flags("bad", extra))).toThrow(ProvisionInputError);
    expect(() => planFromFlags(flags("bad", extra))).toThrow(message);
  });

  // What the operator reads, whole: the flag, the value given, and what would be accepted.
  it.each<[ProvisionFlags, string]>([
    [
      { project: "Bad_Project" },
      `project id "Bad_Project" is not a Google Cloud project id (6–30 lowercase letters, digits, hyphens)`,
    ],
    [{ "dead-letter-subscription": "bad-relay" }, "--dead-letter-subscription must differ from --subscription"],
    [
      { "dead-letter-topic": "bad-events" },
      "--dead-letter-topic must differ from --topic, or failed messages would come straight back",
    ],
    [{ "service-account": "relay-pusher" }, `--service-account "relay-pusher" is not an email address`],
    [{ "service-account": SERVICE_ACCOUNT, audience: "  " }, "--audience must not be empty"],
    [{ "ack-deadline": "601" }, "--ack-deadline must be a whole number from 10 to 600 seconds, not 601"],
    [{ "min-backoff": "601" }, "--min-backoff must be a whole number from 0 to 600 seconds, not 601"],
    [{ "max-backoff": "601" }, "--max-backoff must be a whole number from 0 to 600 seconds, not 601"],
    [{ "min-backoff": "61", "max-backoff": "1m" }, "--min-backoff (61s) exceeds --max-backoff (60s)"],
    [{ "max-delivery-attempts": "101" }, "--max-delivery-attempts must be a whole number from 5 to 100, not 101"],
    [{ "max-delivery-attempts": "a10" }, `--max-delivery-attempts "a10" is not a whole number`],
    [{ "max-delivery-attempts": "10a" }, `--max-delivery-attempts "10a" is not a whole number`],
    [{ "ack-deadline": "a30" }, `--ack-deadline "a30" is not a duration: use seconds (30, 30s) or minutes (1m)`],
    [{ "min-backoff": "x" }, `--min-backoff "x" is not a duration: use seconds (30, 30s) or minutes (1m)`],
    [{ "max-backoff": "1h" }, `--max-backoff "1h" is not a duration: use seconds (30, 30s) or minutes (1m)`],
    [
      { "push-endpoint": "ftp://127.0.0.1/notifications" },
      `--push-endpoint "ftp://127.0.0.1/notifications" must be https (Pub/Sub pushes only to https), or http on localhost/127.0.0.1 for the emulator`,
    ],
    [{ "push-endpoint": "relay" }, `--push-endpoint "relay" is not a URL`],
  ])("says exactly what is wrong with %j", (extra, message) => {
    expect(() => planFromFlags(flags("bad", extra))).toThrow(new ProvisionInputError(message));
  });

  it("names each missing required flag", () => {
    for (const name of ["project", "topic", "subscription", "push-endpoint"] as const) {
      expect(() => planFromFlags({ ...flags("req"), [name]: undefined })).toThrow(
        new ProvisionInputError(`--${name} is required`),
      );
    }
  });

  it("accepts the bounds themselves, and numbers with spaces around them", () => {
    expect(
      planFromFlags(
        flags("edge", {
          "min-backoff": "60",
          "max-backoff": "1m",
          "ack-deadline": " 600 ",
          "max-delivery-attempts": " 100 ",
        }),
      ),
    ).toMatchObject({
      minBackoffSeconds: 60,
      maxBackoffSeconds: 60,
      ackDeadlineSeconds: 600,
      maxDeliveryAttempts: 100,
    });
    expect(planFromFlags(flags("edge", { "push-endpoint": "http://localhost:8080/notifications" })).pushEndpoint).toBe(
      "http://localhost:8080/notifications",
    );
    expect(
      planFromFlags(flags("edge", { "push-endpoint": "https://relay.example.com/notifications" })).pushEndpoint,
    ).toBe("https://relay.example.com/notifications");
  });
});

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs what `npm run pubsub:provision` runs, never pointed at an emulator unless asked. */
function runCli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  const child = spawn(process.execPath, ["src/bin/provision.ts", ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.once("close", (code) => resolve({ code, stdout, stderr })));
}

describe("the CLI", () => {
  const valid = [
    "--project",
    PROJECT,
    "--topic",
    "cli-events",
    "--subscription",
    "cli-relay",
    "--push-endpoint",
    "http://localhost:3000/notifications",
  ];

  it("refuses bad arguments with one line on stderr and exit code 2", async () => {
    const runs = await Promise.all([
      runCli(["--bogus"]),
      runCli(["--project", PROJECT, "--topic", "cli-events"]),
      runCli([...valid, "--topic", "ab"]),
      runCli([...valid, "--push-endpoint", "http://relay.example.com/notifications"]),
      runCli([...valid, "--max-delivery-attempts", "200"]),
      runCli([...valid, "--min-backoff", "10h"]),
      runCli([...valid, "stray"]),
    ]);
    for (const run of runs) {
      expect(run.code, run.stderr).toBe(2);
      expect(run.stdout).toBe("");
      expect(run.stderr).toMatch(/^pubsub:provision: .+\(see --help\)\n$/);
    }
    expect(runs[1]!.stderr).toContain("--subscription is required");
  });

  it("prints its usage for --help", async () => {
    const run = await runCli(["--help"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("--ack-deadline");
    expect(run.stdout).toMatch(/must exceed the relay's request budget/);
  });

  it("provisions the emulator named by PUBSUB_EMULATOR_HOST, then finds nothing to do", async () => {
    const env = { PUBSUB_EMULATOR_HOST: emulator.host };
    const first = await runCli([...valid, "--service-account", SERVICE_ACCOUNT, "--no-wrapper"], env);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toBe("");
    expect(first.stdout).toContain(`PUBSUB_EMULATOR_HOST is set: using the Pub/Sub emulator at ${emulator.host}`);
    expect(first.stdout).toContain(`create topic projects/${PROJECT}/topics/cli-events\n`);
    expect(first.stdout).toContain(`create subscription projects/${PROJECT}/subscriptions/cli-relay\n`);
    expect(first.stdout).toContain("per Google's documentation");
    for (const role of [
      "roles/run.invoker",
      "roles/pubsub.publisher",
      "roles/pubsub.subscriber",
      "roles/iam.serviceAccountTokenCreator",
    ]) {
      expect(first.stdout).toContain(role);
    }
    expect((await metadata("cli-relay")).pushConfig).toMatchObject({
      noWrapper: { writeMetadata: true },
      oidcToken: { serviceAccountEmail: SERVICE_ACCOUNT },
    });

    const again = await runCli([...valid, "--service-account", SERVICE_ACCOUNT, "--no-wrapper", "--dry-run"], env);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain("dry run: nothing will be changed");
    expect(again.stdout).toContain(`ok subscription projects/${PROJECT}/subscriptions/cli-relay (unchanged)\n`);
    expect(again.stdout).not.toMatch(/^(would )?(create|update) /m);
  });
});
