// Google's Pub/Sub emulator for tests: one JVM per caller on a port of its own, plus the few
// topic/subscription/publish helpers the push and provisioning tests share.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PubSub } from "@google-cloud/pubsub";
import { freePort } from "./relayProcess.ts";

/** The emulator's own launcher (≈2–3 s to start); `gcloud beta emulators pubsub start` wraps it in a Python process. */
const EMULATOR_BIN =
  process.env.PUBSUB_EMULATOR_BIN ?? "/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator";
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 5_000;
const PORT_ATTEMPTS = 5;
// Kept for error messages only; the emulator logs every push, so the full log would grow unbounded.
const LOG_LINES_KEPT = 200;

export interface PubsubEmulator {
  /** "127.0.0.1:port", the form PUBSUB_EMULATOR_HOST takes. */
  host: string;
  projectId: string;
  /** A client bound to this emulator without touching process.env; closed by stop(). */
  client(): PubSub;
  /** Closes the clients, stops the emulator's process group and removes its data dir. */
  stop(): Promise<void>;
}

interface Started {
  child: ChildProcess;
  log: string[];
  exited: Promise<void>;
}

class PortInUse extends Error {}

/**
 * Starts the emulator on a free port of 127.0.0.1. The port is probed by binding it, which can
 * race with another process; the emulator then logs a BindException and hangs instead of exiting,
 * so that case is recognised from its log and retried on another port.
 */
export async function startPubsubEmulator(options: { projectId?: string } = {}): Promise<PubsubEmulator> {
  const projectId = options.projectId ?? "relay-test";
  const dataDir = await mkdtemp(join(tmpdir(), "pubsub-emulator-"));
  let lastError: unknown;
  for (let attempt = 0; attempt < PORT_ATTEMPTS; attempt++) {
    const port = await freePort();
    try {
      const started = await launch(port, projectId, dataDir);
      return handle(`127.0.0.1:${port}`, projectId, dataDir, started);
    } catch (error) {
      lastError = error;
      if (!(error instanceof PortInUse)) break;
    }
  }
  await rm(dataDir, { recursive: true, force: true });
  throw lastError;
}

async function launch(port: number, projectId: string, dataDir: string): Promise<Started> {
  const [command, args] = existsSync(EMULATOR_BIN)
    ? [EMULATOR_BIN, ["--host=127.0.0.1", `--port=${port}`]]
    : [
        "gcloud",
        [
          "beta",
          "emulators",
          "pubsub",
          "start",
          `--host-port=127.0.0.1:${port}`,
          `--project=${projectId}`,
          `--data-dir=${dataDir}`,
          "--quiet",
        ],
      ];
  // A process group of its own: gcloud runs java as a child, and both must go on stop().
  const child = spawn(command, args, { cwd: dataDir, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  const log: string[] = [];
  const collect = (chunk: Buffer) => {
    log.push(...chunk.toString().split("\n").filter(Boolean));
    if (log.length > LOG_LINES_KEPT) log.splice(0, log.length - LOG_LINES_KEPT);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let spawnError: Error | undefined;
  child.once("error", (error) => (spawnError = error));
  const started: Started = { child, log, exited };

  const deadline = Date.now() + START_TIMEOUT_MS;
  // Our own log line first: another emulator already on this port would answer GET / as well.
  while (!log.some((line) => line.trimEnd().endsWith(`listening on ${port}`))) {
    const failure =
      spawnError?.message ??
      (child.exitCode !== null || child.signalCode !== null ? "exited" : undefined) ??
      (log.some((line) => /BindException|Address already in use/.test(line)) ? "port in use" : undefined) ??
      (Date.now() > deadline ? `not started after ${START_TIMEOUT_MS} ms` : undefined);
    if (failure) {
      await killGroup(started);
      const message = `Pub/Sub emulator on port ${port}: ${failure}\n${log.join("\n")}`;
      throw failure === "port in use" ? new PortInUse(message) : new Error(message);
    }
    await sleep(50);
  }
  while (!(await answersOk(port))) {
    if (Date.now() > deadline) {
      await killGroup(started);
      throw new Error(`Pub/Sub emulator on port ${port} does not answer GET /\n${log.join("\n")}`);
    }
    await sleep(50);
  }
  return started;
}

function handle(host: string, projectId: string, dataDir: string, started: Started): PubsubEmulator {
  const clients: PubSub[] = [];
  // Should the test process die without stop(), the emulator must not outlive it. ("exit"
  // listeners run synchronously, hence SIGKILL and rmSync.)
  const onExit = () => {
    signalGroup(started.child, "SIGKILL");
    rmSync(dataDir, { recursive: true, force: true });
  };
  process.once("exit", onExit);
  let stopping: Promise<void> | undefined;
  return {
    host,
    projectId,
    client() {
      // universeDomain up front: otherwise the auth library probes the GCE metadata server for
      // credentials the emulator never asks for, and warns on stderr when it finds none.
      const client = new PubSub({ projectId, apiEndpoint: host, emulatorMode: true, universeDomain: "googleapis.com" });
      clients.push(client);
      return client;
    },
    stop() {
      stopping ??= (async () => {
        process.off("exit", onExit);
        await Promise.allSettled(clients.map((c) => c.close()));
        await killGroup(started);
        await rm(dataDir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
}

/** SIGTERM to the whole group, SIGKILL if it is still there after STOP_TIMEOUT_MS; waits for exit. */
async function killGroup({ child, exited }: Started): Promise<void> {
  if (child.pid === undefined) return;
  if (child.exitCode !== null || child.signalCode !== null) {
    signalGroup(child, "SIGKILL"); // the leader is gone; a java child of gcloud may not be
    return;
  }
  signalGroup(child, "SIGTERM");
  const timedOut = await Promise.race([exited.then(() => false), sleep(STOP_TIMEOUT_MS).then(() => true)]);
  if (timedOut) {
    signalGroup(child, "SIGKILL");
    await exited;
  }
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

async function answersOk(port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(1_000) });
    return res.ok && (await res.text()).trim() === "Ok";
  } catch {
    return false;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---- helpers on top of a running emulator ----

// One client per emulator for the helpers below, so tests need not manage one to publish.
const helperClients = new WeakMap<PubsubEmulator, PubSub>();

function helperClient(emulator: PubsubEmulator): PubSub {
  let client = helperClients.get(emulator);
  if (!client) {
    client = emulator.client();
    helperClients.set(emulator, client);
  }
  return client;
}

/** Creates the topic unless it exists; returns its full name. */
export async function ensureTopic(emulator: PubsubEmulator, topic: string): Promise<string> {
  const handle = helperClient(emulator).topic(topic);
  const [exists] = await handle.exists();
  if (!exists) await handle.create();
  return handle.name;
}

export interface PushSubscriptionOptions {
  topic: string;
  subscription: string;
  pushEndpoint: string;
  /** Deliver the message data as the body, without the JSON envelope. */
  noWrapper?: boolean;
  /** With noWrapper: send the x-goog-pubsub-* headers (true unless false). */
  writeMetadata?: boolean;
  /** Seconds, 10–600; Pub/Sub's default is 10. */
  ackDeadlineSeconds?: number;
  /** Created if missing. maxDeliveryAttempts is 5–100. */
  deadLetter?: { topic: string; maxDeliveryAttempts: number };
  /** Redelivery backoff in seconds, 0–600 each. */
  retry?: { minimumBackoffSeconds: number; maximumBackoffSeconds: number };
  /** Stored, but the emulator (0.8.20) sends no Authorization header: it signs no token. */
  oidcToken?: { serviceAccountEmail: string; audience?: string };
}

/** Creates the topic (if missing) and a push subscription on it; returns the subscription's full name. */
export async function createPushSubscription(
  emulator: PubsubEmulator,
  options: PushSubscriptionOptions,
): Promise<string> {
  await ensureTopic(emulator, options.topic);
  const deadLetterTopic = options.deadLetter ? await ensureTopic(emulator, options.deadLetter.topic) : undefined;
  const [subscription] = await helperClient(emulator)
    .topic(options.topic)
    .createSubscription(options.subscription, {
      pushConfig: {
        pushEndpoint: options.pushEndpoint,
        ...(options.noWrapper ? { noWrapper: { writeMetadata: options.writeMetadata ?? true } } : {}),
        ...(options.oidcToken ? { oidcToken: options.oidcToken } : {}),
      },
      ...(options.ackDeadlineSeconds !== undefined ? { ackDeadlineSeconds: options.ackDeadlineSeconds } : {}),
      ...(options.deadLetter
        ? { deadLetterPolicy: { deadLetterTopic, maxDeliveryAttempts: options.deadLetter.maxDeliveryAttempts } }
        : {}),
      ...(options.retry
        ? {
            retryPolicy: {
              minimumBackoff: { seconds: options.retry.minimumBackoffSeconds },
              maximumBackoff: { seconds: options.retry.maximumBackoffSeconds },
            },
          }
        : {}),
    });
  return subscription.name;
}

/** Creates the topic (if missing) and a pull subscription on it, e.g. to collect dead letters. */
export async function createPullSubscription(
  emulator: PubsubEmulator,
  topic: string,
  subscription: string,
): Promise<string> {
  await ensureTopic(emulator, topic);
  const [created] = await helperClient(emulator).topic(topic).createSubscription(subscription);
  return created.name;
}

/** Publishes one message; resolves with the id Pub/Sub gave it. */
export async function publish(
  emulator: PubsubEmulator,
  topic: string,
  data: Buffer | string,
  attributes?: Record<string, string>,
): Promise<string> {
  const payload = typeof data === "string" ? Buffer.from(data) : data;
  return helperClient(emulator)
    .topic(topic)
    .publishMessage({ data: payload, ...(attributes ? { attributes } : {}) });
}

export interface PulledMessage {
  messageId: string;
  data: Buffer;
  attributes: Record<string, string>;
  /** Set on subscriptions with a dead-letter policy. */
  deliveryAttempt?: number;
}

/**
 * One synchronous pull through the REST API (no streaming subscriber to shut down), acknowledging
 * what it got. Returns at once, possibly with nothing: poll for messages still on their way.
 */
export async function pullAndAck(
  emulator: PubsubEmulator,
  subscription: string,
  maxMessages = 100,
): Promise<PulledMessage[]> {
  const name = subscription.includes("/")
    ? subscription
    : `projects/${emulator.projectId}/subscriptions/${subscription}`;
  const base = `http://${emulator.host}/v1/${name}`;
  const res = await fetch(`${base}:pull`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ maxMessages, returnImmediately: true }),
  });
  if (!res.ok) throw new Error(`pull ${name}: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as {
    receivedMessages?: Array<{
      ackId: string;
      deliveryAttempt?: number;
      message: { messageId: string; data?: string; attributes?: Record<string, string> };
    }>;
  };
  const received = body.receivedMessages ?? [];
  if (received.length > 0) {
    const ack = await fetch(`${base}:acknowledge`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ackIds: received.map((r) => r.ackId) }),
    });
    if (!ack.ok) throw new Error(`acknowledge ${name}: ${ack.status} ${await ack.text()}`);
  }
  return received.map(({ message, deliveryAttempt }) => ({
    messageId: message.messageId,
    data: Buffer.from(message.data ?? "", "base64"),
    attributes: message.attributes ?? {},
    ...(deliveryAttempt !== undefined ? { deliveryAttempt } : {}),
  }));
}
