// `npm run emulator -- [--port 8071] [--api-key KEY] [faults…] [--endpoint URL --endpoint-secret whsec_…]
//   [--operational-webhook URL --operational-webhook-secret whsec_…] [--retry-schedule 0,200,1000]`
// A standalone Svix emulator with faults, for trying the relay by hand (SVIX_SERVER_URL=…), that
// also delivers messages as signed webhooks (see `npm run webhook-sink`).
// Faults can also be changed while it runs: POST /_emulator/faults, PUT /_emulator/rate-limit.
import { fail, intFlag, listenFailure, parseCli, usage } from "../wiring/cliSupport.ts";
import { isUsableSecret, newEndpointSecret } from "../emulator/endpointModel.ts";
import type { FaultRule } from "../emulator/faults.ts";
import { operationalConfigProblem } from "../emulator/operationalWebhooks.ts";
import { SvixEmulator } from "../emulator/svixEmulator.ts";

const HELP = usage(
  "npm run emulator -- [flags]",
  "A local Svix: its API for the relay (SVIX_SERVER_URL), fault injection, and webhook delivery to endpoints.",
  [
    { flag: "port", arg: "PORT", help: "port to listen on (default 8071)" },
    { flag: "api-key", arg: "KEY", help: "the only bearer token accepted (default: any)" },
    { flag: "rate-limit", arg: "N", help: "answer 429 beyond N API calls per second" },
    { flag: "retry-after", arg: "S", help: "Retry-After seconds sent with those 429s" },
    { flag: "fail-first", arg: "N", help: "answer the first N message.create calls with --fail-status" },
    { flag: "fail-status", arg: "CODE", help: "status for --fail-first (default 503)" },
    {
      flag: "fail-rate",
      arg: "P",
      help: "answer that share (0–1) of message.create calls with --fail-status, at random",
    },
    { flag: "hang", arg: "N", help: "never answer the first N message.create calls" },
    { flag: "latency", arg: "MIN-MAX", help: "delay message.create answers by MIN to MAX ms" },
    {
      flag: "endpoint",
      arg: "URL",
      help: "register this endpoint on every application created (e.g. the webhook sink)",
    },
    { flag: "endpoint-secret", arg: "whsec_…", help: "signing secret of --endpoint (default: generated and printed)" },
    {
      flag: "operational-webhook",
      arg: "URL",
      help: "where Svix's operational webhooks go (message.attempt.*, endpoint.*)",
    },
    {
      flag: "operational-webhook-secret",
      arg: "whsec_…",
      help: "their signing secret (default: generated and printed)",
    },
    { flag: "retry-schedule", arg: "MS,MS,…", help: "delay before each delivery attempt in ms (default 0,200,1000)" },
    { flag: "delivery-timeout", arg: "MS", help: "per-attempt timeout in ms (default 15000)" },
    { flag: "disable-after", arg: "N", help: "disable an endpoint after N messages exhausted in a row (default 3)" },
    { flag: "help", help: "this text" },
  ],
);

const values = parseCli(
  {
    port: { type: "string", default: "8071" },
    "api-key": { type: "string" },
    "rate-limit": { type: "string" },
    "retry-after": { type: "string" },
    "fail-first": { type: "string" },
    "fail-status": { type: "string", default: "503" },
    "fail-rate": { type: "string" },
    hang: { type: "string" },
    latency: { type: "string" },
    endpoint: { type: "string" },
    "endpoint-secret": { type: "string" },
    "operational-webhook": { type: "string" },
    "operational-webhook-secret": { type: "string" },
    "retry-schedule": { type: "string" },
    "delivery-timeout": { type: "string" },
    "disable-after": { type: "string" },
  },
  HELP,
);

const port = intFlag("port", values.port) ?? 8071;
const retrySchedule = values["retry-schedule"]?.split(",").map((ms) => intFlag("retry-schedule", ms.trim()) ?? 0);
const endpointSecret = values["endpoint-secret"] ?? newEndpointSecret();
if (values.endpoint && (!/^https?:\/\//.test(values.endpoint) || !URL.canParse(values.endpoint)))
  fail("--endpoint must be an http(s) URL", 2);
if (!isUsableSecret(endpointSecret)) fail("--endpoint-secret must be whsec_ followed by base64", 2);
const operational = values["operational-webhook"]
  ? { url: values["operational-webhook"], secret: values["operational-webhook-secret"] ?? newEndpointSecret() }
  : null;
const operationalProblem = operational && operationalConfigProblem(operational);
if (operationalProblem) fail(`--operational-webhook: ${operationalProblem}`, 2);

const emulator = new SvixEmulator({
  apiKey: values["api-key"],
  retryScheduleMs: retrySchedule,
  deliveryTimeoutMs: intFlag("delivery-timeout", values["delivery-timeout"], 1),
  disableEndpointAfter: intFlag("disable-after", values["disable-after"], 1),
  operationalWebhook: operational,
  defaultEndpoint: values.endpoint ? { url: values.endpoint, secret: endpointSecret } : undefined,
  log: (line) => process.stdout.write(`${line}\n`),
});
const rules: FaultRule[] = [];
if (values["fail-first"])
  rules.push({
    kind: "status",
    status: Number(values["fail-status"]),
    operation: "message.create",
    times: Number(values["fail-first"]),
  });
if (values["fail-rate"] !== undefined) {
  const probability = Number(values["fail-rate"]);
  if (!(values["fail-rate"].trim() !== "" && probability >= 0 && probability <= 1))
    fail("--fail-rate must be a number from 0 to 1", 2);
  rules.push({ kind: "status", status: Number(values["fail-status"]), operation: "message.create", probability });
}
if (values.hang) rules.push({ kind: "hang", operation: "message.create", times: Number(values.hang) });
if (values.latency) {
  const [min, max] = values.latency.split("-").map(Number);
  rules.push({ kind: "latency", minMs: min ?? 0, maxMs: max ?? min ?? 0, operation: "message.create" });
}
emulator.faults.add(...rules);
if (values["rate-limit"]) {
  emulator.faults.setRateLimit({
    perSecond: Number(values["rate-limit"]),
    retryAfterSeconds: values["retry-after"] === undefined ? undefined : Number(values["retry-after"]),
  });
}
const url = await emulator
  .start(port, "127.0.0.1")
  .catch((error: unknown) => fail(listenFailure(error, "Svix emulator", port)));
process.stdout.write(
  `Svix emulator on ${url} (faults: ${JSON.stringify(rules)}${values["rate-limit"] ? `, ${values["rate-limit"]} req/s` : ""})\n`,
);
process.stdout.write(`  messages: curl ${url}/_emulator/messages\n`);
// The secrets are printed on purpose: they are local, throwaway, and the sink needs them.
if (values.endpoint)
  process.stdout.write(
    `  every new application gets endpoint ${values.endpoint}\n  endpoint secret: ${endpointSecret}\n  receive: npm run webhook-sink -- --port ${new URL(values.endpoint).port || 80} --secret ${endpointSecret}\n`,
  );
if (operational)
  process.stdout.write(`  operational webhooks → ${operational.url}\n  operational secret: ${operational.secret}\n`);
const stop = () => void emulator.stop().then(() => process.exit(0));
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
