// `npm run pubsub:provision -- --project P --topic T --subscription S --push-endpoint URL …`:
// creates or updates the relay's Pub/Sub resources (see provision.ts) and prints one line per
// action, then the IAM grants a real project needs. Exit codes: 0 done, 1 Pub/Sub refused, 2 bad input.
import { parseArgs } from "node:util";
import type { PubSub } from "@google-cloud/pubsub";
import {
  describeAction,
  planFromFlags,
  provision,
  ProvisionInputError,
  type ProvisionPlanInput,
} from "../pubsub/provision.ts";

const USAGE = `Usage: npm run pubsub:provision -- --project P --topic T --subscription S --push-endpoint URL [options]

Creates or updates, idempotently: topic T; push subscription S on T; a dead-letter topic and a
pull subscription on it that keeps dead letters. Re-running restores any setting changed by hand.

  --project ID                  Google Cloud project id (required)
  --topic ID                    topic the events are published to (required)
  --subscription ID             push subscription delivering to the relay (required)
  --push-endpoint URL           the relay's POST /notifications URL (required); https, or
                                http only for localhost/127.0.0.1 (the emulator)
  --service-account EMAIL       sign an OIDC token as this account on every push
  --audience AUD                the token's aud claim (default: the push endpoint URL)
  --no-wrapper                  push the event itself as the body, with x-goog-pubsub-* headers
                                (writeMetadata), instead of the JSON envelope
  --ack-deadline SECONDS        10–600 (default 30); must exceed the relay's request budget
                                (IN_FLIGHT_WAIT_MS + REQUEST_BUDGET_MS, 8 s by default), or
                                Pub/Sub redelivers pushes the relay is still handling
  --min-backoff DURATION        redelivery backoff, 0–600 s (default 10s); 30, 30s or 1m
  --max-backoff DURATION        likewise (default 600s)
  --dead-letter-topic ID        default: <topic>-dead-letter
  --dead-letter-subscription ID default: <dead-letter-topic>-sub (pull, 7-day retention)
  --max-delivery-attempts N     5–100 (default 10) deliveries before a message is dead-lettered
  --dry-run                     print what would be created or updated; change nothing
  --help                        this text

Ids are 3–255 characters of [A-Za-z0-9-_.~+%] starting with a letter. With PUBSUB_EMULATOR_HOST
set (host:port), everything goes to that emulator, as with Google's client libraries.
Exit codes: 0 done, 1 Pub/Sub refused a call, 2 bad arguments.
`;

function parseCommandLine(): { flags: ReturnType<typeof parseFlags>["values"] } {
  try {
    return { flags: parseFlags().values };
  } catch (error) {
    // parseArgs' messages name the flag; the first line is the useful one.
    return usageError(String((error as Error).message).split("\n")[0] ?? "bad arguments");
  }
}

function parseFlags() {
  return parseArgs({
    strict: true,
    allowPositionals: false,
    options: {
      project: { type: "string" },
      topic: { type: "string" },
      subscription: { type: "string" },
      "push-endpoint": { type: "string" },
      "service-account": { type: "string" },
      audience: { type: "string" },
      "no-wrapper": { type: "boolean" },
      "ack-deadline": { type: "string" },
      "min-backoff": { type: "string" },
      "max-backoff": { type: "string" },
      "dead-letter-topic": { type: "string" },
      "dead-letter-subscription": { type: "string" },
      "max-delivery-attempts": { type: "string" },
      "dry-run": { type: "boolean" },
      help: { type: "boolean" },
    },
  });
}

function usageError(message: string): never {
  process.stderr.write(`pubsub:provision: ${message} (see --help)\n`);
  process.exit(2);
}

/** The client library honours PUBSUB_EMULATOR_HOST by itself; this only makes the emulator quiet. */
async function pubsubClient(projectId: string, emulatorHost: string | undefined): Promise<PubSub> {
  // Loaded only once the arguments are known good: gRPC and protobufs take a second to load.
  const { PubSub } = await import("@google-cloud/pubsub");
  if (!emulatorHost) return new PubSub({ projectId });
  // A universe domain given up front stops the auth library probing the GCE metadata server
  // (and warning when there is none) for credentials the emulator never asks for.
  return new PubSub({ projectId, apiEndpoint: emulatorHost, emulatorMode: true, universeDomain: "googleapis.com" });
}

/** gcloud commands, as text: this tool creates resources, granting access is the project owner's call. */
function iamGrants(plan: ProvisionPlanInput): string[] {
  const p = plan.projectId;
  // A shell variable for the operator to set, not a template of ours: the project number is not known here.
  const agent = ["serviceAccount:service-$", "{PROJECT_NUMBER}@gcp-sa-pubsub.iam.gserviceaccount.com"].join("");
  const lines = [
    "IAM a real project needs, per Google's documentation (printed, not applied):",
    `  PROJECT_NUMBER=$(gcloud projects describe ${p} --format='value(projectNumber)')`,
    "  # dead lettering: the Pub/Sub service agent republishes to the dead-letter topic and acknowledges on the subscription",
    `  gcloud pubsub topics add-iam-policy-binding ${plan.deadLetterTopic} --project=${p} --member="${agent}" --role=roles/pubsub.publisher`,
    `  gcloud pubsub subscriptions add-iam-policy-binding ${plan.subscription} --project=${p} --member="${agent}" --role=roles/pubsub.subscriber`,
  ];
  if (!plan.oidc) {
    lines.push(
      "  # no --service-account: pushes carry no OIDC token, so a Cloud Run service must allow unauthenticated calls",
    );
    return lines;
  }
  const sa = plan.oidc.serviceAccountEmail;
  lines.push(
    "  # the push identity may invoke the relay's Cloud Run service (SERVICE and REGION: yours)",
    `  gcloud run services add-iam-policy-binding SERVICE --region=REGION --project=${p} --member="serviceAccount:${sa}" --role=roles/run.invoker`,
    "  # the Pub/Sub service agent mints the OIDC tokens as that account (required for projects created before 8 April 2021)",
    `  gcloud iam service-accounts add-iam-policy-binding ${sa} --project=${p} --member="${agent}" --role=roles/iam.serviceAccountTokenCreator`,
    `  # whoever runs this tool needs iam.serviceAccounts.actAs on ${sa} (roles/iam.serviceAccountUser) to attach it to the subscription`,
  );
  return lines;
}

const { flags } = parseCommandLine();
if (flags.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
let plan: ProvisionPlanInput;
try {
  plan = planFromFlags(flags);
} catch (error) {
  if (error instanceof ProvisionInputError) usageError(error.message);
  throw error;
}

const dryRun = flags["dry-run"] ?? false;
const emulatorHost = process.env.PUBSUB_EMULATOR_HOST || undefined;
const out = (line: string) => process.stdout.write(`${line}\n`);
// A reader that went away (`… | head`) must not abort provisioning halfway through.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code !== "EPIPE") process.exitCode = 1;
});
if (emulatorHost)
  out(
    `PUBSUB_EMULATOR_HOST is set: using the Pub/Sub emulator at ${emulatorHost}, not project ${plan.projectId} on Google Cloud`,
  );
if (dryRun) out("dry run: nothing will be changed");

const pubsub = await pubsubClient(plan.projectId, emulatorHost);
let exitCode = 0;
try {
  for (const action of await provision(pubsub, plan, { dryRun })) out(describeAction(action, dryRun));
  out("");
  for (const line of iamGrants(plan)) out(line);
} catch (error) {
  // gRPC errors read "7 PERMISSION_DENIED: …": code and reason in one line, enough to act on.
  process.stderr.write(`pubsub:provision: ${(error as Error).message.split("\n")[0]}\n`);
  exitCode = 1;
} finally {
  await pubsub.close();
}
process.exitCode = exitCode;
