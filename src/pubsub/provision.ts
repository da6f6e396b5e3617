// Brings a project's Pub/Sub resources for the relay to the desired state, idempotently: the
// event topic, the push subscription to the relay, and a dead-letter topic with a pull
// subscription that keeps what the relay could not take. Used by `npm run pubsub:provision`.
import type { PubSub, protos } from "@google-cloud/pubsub";

/** What the relay needs from Pub/Sub; `planFromFlags` builds one from the CLI's flags. */
export interface ProvisionPlanInput {
  projectId: string;
  /** Ids, not full names: `relay-events`, not `projects/p/topics/relay-events`. */
  topic: string;
  subscription: string;
  /** https, or http on localhost/127.0.0.1/[::1] only (the emulator pushes over plain HTTP). */
  pushEndpoint: string;
  /** Pub/Sub signs an OIDC token as this service account for each push; audience is the `aud` claim. */
  oidc?: { serviceAccountEmail: string; audience: string };
  /** Push the event itself as the body, with the x-goog-pubsub-* headers, instead of the JSON envelope. */
  noWrapper: boolean;
  /** Seconds, 10–600; must exceed the relay's request budget, or Pub/Sub redelivers a push still being handled. */
  ackDeadlineSeconds: number;
  /** Redelivery backoff bounds in seconds, 0–600, min ≤ max. */
  minBackoffSeconds: number;
  maxBackoffSeconds: number;
  deadLetterTopic: string;
  /** A pull subscription on the dead-letter topic: without one, dead letters are dropped. */
  deadLetterSubscription: string;
  /** Deliveries before a message goes to the dead-letter topic, 5–100. */
  maxDeliveryAttempts: number;
}

export interface ProvisionAction {
  verb: "create" | "update" | "ok";
  resource: "topic" | "subscription";
  /** Full resource name, `projects/…/topics/…` or `projects/…/subscriptions/…`. */
  name: string;
  /** For updates: the subscription fields that differed from the plan. */
  fields: string[];
  /** False on a dry run (and for `ok`): the action was only planned. */
  applied: boolean;
}

/** A plan or a flag that cannot be used; the CLI prints the message and exits with 2. */
export class ProvisionInputError extends Error {}

/** What subscriptions keep unacknowledged messages for: Pub/Sub's maximum, 7 days (in seconds). */
export const DEAD_LETTER_RETENTION_SECONDS = 7 * 24 * 3600;

const RESOURCE_ID = /^[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}$/;
// Project ids are 6–30 lowercase characters; old domain-scoped ones carry an "example.com:" prefix.
const PROJECT_ID = /^(?:[a-z0-9.-]+:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
const LOCAL_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

/** Throws ProvisionInputError for the first value out of range; Pub/Sub's own limits, checked before any call. */
export function validatePlan(plan: ProvisionPlanInput): void {
  if (!PROJECT_ID.test(plan.projectId))
    fail(`project id "${plan.projectId}" is not a Google Cloud project id (6–30 lowercase letters, digits, hyphens)`);
  for (const [flag, id] of [
    ["topic", plan.topic],
    ["subscription", plan.subscription],
    ["dead-letter-topic", plan.deadLetterTopic],
    ["dead-letter-subscription", plan.deadLetterSubscription],
  ] as const) {
    if (!RESOURCE_ID.test(id) || id.toLowerCase().startsWith("goog")) {
      fail(
        `--${flag} "${id}": ids are 3–255 characters of [A-Za-z0-9-_.~+%], start with a letter, and do not start with "goog"`,
      );
    }
  }
  if (plan.deadLetterTopic === plan.topic)
    fail("--dead-letter-topic must differ from --topic, or failed messages would come straight back");
  if (plan.deadLetterSubscription === plan.subscription)
    fail("--dead-letter-subscription must differ from --subscription");
  checkPushEndpoint(plan.pushEndpoint);
  if (plan.oidc) {
    if (!EMAIL.test(plan.oidc.serviceAccountEmail))
      fail(`--service-account "${plan.oidc.serviceAccountEmail}" is not an email address`);
    if (plan.oidc.audience.trim() === "") fail("--audience must not be empty");
  }
  checkRange("--ack-deadline", plan.ackDeadlineSeconds, 10, 600, " seconds");
  checkRange("--min-backoff", plan.minBackoffSeconds, 0, 600, " seconds");
  checkRange("--max-backoff", plan.maxBackoffSeconds, 0, 600, " seconds");
  if (plan.minBackoffSeconds > plan.maxBackoffSeconds)
    fail(`--min-backoff (${plan.minBackoffSeconds}s) exceeds --max-backoff (${plan.maxBackoffSeconds}s)`);
  checkRange("--max-delivery-attempts", plan.maxDeliveryAttempts, 5, 100, "");
}

function checkPushEndpoint(endpoint: string): void {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return fail(`--push-endpoint "${endpoint}" is not a URL`);
  }
  if (url.protocol === "https:") return;
  if (url.protocol === "http:" && LOCAL_HOSTS.has(url.hostname)) return;
  fail(
    `--push-endpoint "${endpoint}" must be https (Pub/Sub pushes only to https), or http on localhost/127.0.0.1 for the emulator`,
  );
}

function checkRange(flag: string, value: number, min: number, max: number, unit: string): void {
  if (!Number.isInteger(value) || value < min || value > max)
    fail(`${flag} must be a whole number from ${min} to ${max}${unit}, not ${value}`);
}

function fail(message: string): never {
  throw new ProvisionInputError(message);
}

/** The CLI's flags as `parseArgs` returns them (strings, booleans, absent when not given). */
export interface ProvisionFlags {
  project?: string;
  topic?: string;
  subscription?: string;
  "push-endpoint"?: string;
  "service-account"?: string;
  audience?: string;
  "dead-letter-topic"?: string;
  "dead-letter-subscription"?: string;
  "max-delivery-attempts"?: string;
  "min-backoff"?: string;
  "max-backoff"?: string;
  "ack-deadline"?: string;
  "no-wrapper"?: boolean;
}

/** Applies the defaults and validates; throws ProvisionInputError on the first bad flag. */
export function planFromFlags(flags: ProvisionFlags): ProvisionPlanInput {
  const required = (name: "project" | "topic" | "subscription" | "push-endpoint"): string =>
    flags[name] ?? fail(`--${name} is required`);
  const projectId = required("project");
  const topic = required("topic");
  const subscription = required("subscription");
  const pushEndpoint = required("push-endpoint");
  const deadLetterTopic = flags["dead-letter-topic"] ?? `${topic}-dead-letter`;
  if (flags.audience !== undefined && flags["service-account"] === undefined)
    fail("--audience needs --service-account");
  const plan: ProvisionPlanInput = {
    projectId,
    topic,
    subscription,
    pushEndpoint,
    noWrapper: flags["no-wrapper"] ?? false,
    ackDeadlineSeconds: parseSeconds("--ack-deadline", flags["ack-deadline"] ?? "30"),
    minBackoffSeconds: parseSeconds("--min-backoff", flags["min-backoff"] ?? "10s"),
    maxBackoffSeconds: parseSeconds("--max-backoff", flags["max-backoff"] ?? "600s"),
    deadLetterTopic,
    deadLetterSubscription: flags["dead-letter-subscription"] ?? `${deadLetterTopic}-sub`,
    maxDeliveryAttempts: parseWhole("--max-delivery-attempts", flags["max-delivery-attempts"] ?? "10"),
    ...(flags["service-account"] !== undefined
      ? { oidc: { serviceAccountEmail: flags["service-account"], audience: flags.audience ?? pushEndpoint } }
      : {}),
  };
  validatePlan(plan);
  return plan;
}

/** `30`, `30s`, `1m`, `10m` → seconds. */
export function parseSeconds(flag: string, text: string): number {
  const match = /^(\d+)([sm]?)$/.exec(text.trim());
  if (!match) fail(`${flag} "${text}" is not a duration: use seconds (30, 30s) or minutes (1m)`);
  return Number(match[1]) * (match[2] === "m" ? 60 : 1);
}

function parseWhole(flag: string, text: string): number {
  if (!/^\d+$/.test(text.trim())) fail(`${flag} "${text}" is not a whole number`);
  return Number(text);
}

// ---- desired state, compared field by field with what Pub/Sub reports ----

type Metadata = protos.google.pubsub.v1.ISubscription;
type Duration = protos.google.protobuf.IDuration;
type ManagedField =
  | "pushConfig"
  | "ackDeadlineSeconds"
  | "retryPolicy"
  | "deadLetterPolicy"
  | "messageRetentionDuration"
  | "expirationPolicy";
type Fields = { [F in ManagedField]?: NonNullable<Metadata[F]> };
interface SubscriptionSpec {
  name: string;
  topic: string;
  /** Sent as they are on create, and per differing field on update (each one is an update-mask path). */
  fields: Fields;
}

const topicName = (plan: ProvisionPlanInput, id: string) => `projects/${plan.projectId}/topics/${id}`;
const subscriptionName = (plan: ProvisionPlanInput, id: string) => `projects/${plan.projectId}/subscriptions/${id}`;
// An empty policy: never expire. The default deletes a subscription after 31 days without
// deliveries, which would silently drop a quiet relay's subscription or an unread dead-letter one.
const NEVER_EXPIRE = {};

function pushSpec(plan: ProvisionPlanInput): SubscriptionSpec {
  return {
    name: subscriptionName(plan, plan.subscription),
    topic: topicName(plan, plan.topic),
    fields: {
      pushConfig: {
        pushEndpoint: plan.pushEndpoint,
        ...(plan.oidc ? { oidcToken: { ...plan.oidc } } : {}),
        // writeMetadata: the relay recognises an unwrapped push by its x-goog-pubsub-* headers.
        ...(plan.noWrapper ? { noWrapper: { writeMetadata: true } } : {}),
      },
      ackDeadlineSeconds: plan.ackDeadlineSeconds,
      retryPolicy: {
        minimumBackoff: { seconds: plan.minBackoffSeconds },
        maximumBackoff: { seconds: plan.maxBackoffSeconds },
      },
      deadLetterPolicy: {
        deadLetterTopic: topicName(plan, plan.deadLetterTopic),
        maxDeliveryAttempts: plan.maxDeliveryAttempts,
      },
      expirationPolicy: NEVER_EXPIRE,
    },
  };
}

function deadLetterSpec(plan: ProvisionPlanInput): SubscriptionSpec {
  return {
    name: subscriptionName(plan, plan.deadLetterSubscription),
    topic: topicName(plan, plan.deadLetterTopic),
    fields: {
      pushConfig: {}, // pull: dead letters wait here for a person, not for an endpoint
      messageRetentionDuration: { seconds: DEAD_LETTER_RETENTION_SECONDS },
      expirationPolicy: NEVER_EXPIRE,
    },
  };
}

const seconds = (d: Duration | null | undefined): number | null => (d == null ? null : Number(String(d.seconds ?? 0)));
// Each field reduced to what the plan sets, so server-filled defaults do not count as a difference.
const CANONICAL: { [F in ManagedField]-?: (value: Metadata[F]) => unknown } = {
  pushConfig: (p) => [
    p?.pushEndpoint ?? "",
    p?.oidcToken ? [p.oidcToken.serviceAccountEmail ?? "", p.oidcToken.audience ?? ""] : null,
    p?.noWrapper ? Boolean(p.noWrapper.writeMetadata) : null,
  ],
  ackDeadlineSeconds: (n) => n ?? null,
  retryPolicy: (r) => (r ? [seconds(r.minimumBackoff), seconds(r.maximumBackoff)] : null),
  deadLetterPolicy: (d) => (d ? [d.deadLetterTopic ?? "", d.maxDeliveryAttempts ?? 0] : null),
  messageRetentionDuration: seconds,
  // Real Pub/Sub always reports a policy (ttl absent: never); the emulator reports none for
  // "never" and for its default alike, so a missing policy counts as "never".
  expirationPolicy: (e) => (e == null || e.ttl == null ? "never" : seconds(e.ttl)),
};

function differingFields(desired: Fields, actual: Metadata): ManagedField[] {
  return (Object.keys(desired) as ManagedField[]).filter((field) => {
    const canonical = CANONICAL[field] as (value: unknown) => unknown;
    return JSON.stringify(canonical(desired[field])) !== JSON.stringify(canonical(actual[field]));
  });
}

// ---- applying it ----

/**
 * Creates what is missing and updates what differs, in dependency order: the dead-letter
 * subscription exists before the push subscription can dead-letter anything. With `dryRun`,
 * only reads. Throws ProvisionInputError for a bad plan, and an Error when the subscription
 * exists on another topic (Pub/Sub cannot move it).
 */
export async function provision(
  pubsub: PubSub,
  desired: ProvisionPlanInput,
  options: { dryRun: boolean },
): Promise<ProvisionAction[]> {
  validatePlan(desired);
  return [
    await ensureTopic(pubsub, topicName(desired, desired.topic), options.dryRun),
    await ensureTopic(pubsub, topicName(desired, desired.deadLetterTopic), options.dryRun),
    await ensureSubscription(pubsub, deadLetterSpec(desired), options.dryRun),
    await ensureSubscription(pubsub, pushSpec(desired), options.dryRun),
  ];
}

async function ensureTopic(pubsub: PubSub, name: string, dryRun: boolean): Promise<ProvisionAction> {
  const topic = pubsub.topic(name);
  const [exists] = await topic.exists();
  if (exists) return { verb: "ok", resource: "topic", name, fields: [], applied: false };
  if (!dryRun) await topic.create();
  return { verb: "create", resource: "topic", name, fields: [], applied: !dryRun };
}

async function ensureSubscription(pubsub: PubSub, spec: SubscriptionSpec, dryRun: boolean): Promise<ProvisionAction> {
  const subscription = pubsub.subscription(spec.name);
  const actual = await readMetadata(subscription);
  if (!actual) {
    if (!dryRun) await pubsub.topic(spec.topic).createSubscription(spec.name, spec.fields);
    return { verb: "create", resource: "subscription", name: spec.name, fields: [], applied: !dryRun };
  }
  if (actual.topic !== spec.topic) {
    throw new Error(
      `${spec.name} is attached to ${String(actual.topic)}, not ${spec.topic}; Pub/Sub cannot move a subscription: delete it or choose another name`,
    );
  }
  const fields = differingFields(spec.fields, actual);
  if (fields.length === 0) return { verb: "ok", resource: "subscription", name: spec.name, fields, applied: false };
  if (!dryRun) await subscription.setMetadata(Object.fromEntries(fields.map((f) => [f, spec.fields[f]])));
  return { verb: "update", resource: "subscription", name: spec.name, fields, applied: !dryRun };
}

async function readMetadata(subscription: ReturnType<PubSub["subscription"]>): Promise<Metadata | undefined> {
  try {
    const [metadata] = await subscription.getMetadata();
    return metadata;
  } catch (error) {
    if ((error as { code?: number }).code === 5) return undefined; // gRPC NOT_FOUND
    throw error;
  }
}

/** One line per action: `create topic …`, `update subscription … (a, b)`, `ok subscription … (unchanged)`; `would …` on a dry run. */
export function describeAction(action: ProvisionAction, dryRun: boolean): string {
  const prefix = dryRun && action.verb !== "ok" ? "would " : "";
  const suffix =
    action.verb === "update" ? ` (${action.fields.join(", ")})` : action.verb === "ok" ? " (unchanged)" : "";
  return `${prefix}${action.verb} ${action.resource} ${action.name}${suffix}`;
}
