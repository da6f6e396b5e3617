// `npm run webhook-sink -- --port 8090 --secret whsec_… [--fail-first N] [--print-payload]`
// A local webhook receiver that verifies Svix signatures: point an endpoint at it (the emulator's
// --endpoint, or a real Svix endpoint through a tunnel) and watch webhooks arrive.
import { fail, intFlag, listenFailure, parseCli, usage } from "../wiring/cliSupport.ts";
import { WebhookSink, type ReceivedWebhook } from "../emulator/webhookSink.ts";

const HELP = usage(
  "npm run webhook-sink -- --port 8090 --secret whsec_… [--fail-first N] [--print-payload]",
  "Receives webhooks, verifies their Svix signature (401 when it does not match), answers 204, and prints one line per webhook.",
  [
    { flag: "port", arg: "PORT", help: "port to listen on (default 8090)" },
    { flag: "host", arg: "HOST", help: "address to listen on (default 127.0.0.1)" },
    { flag: "secret", arg: "whsec_…", help: "the endpoint's signing secret (required; the emulator prints it)" },
    { flag: "fail-first", arg: "N", help: "answer the first N verified webhooks with 500, to watch the retries" },
    { flag: "print-payload", help: "also print each payload (off by default: payloads carry personal data)" },
    { flag: "help", help: "this text" },
  ],
);

const values = parseCli(
  {
    port: { type: "string", default: "8090" },
    host: { type: "string", default: "127.0.0.1" },
    secret: { type: "string" },
    "fail-first": { type: "string" },
    "print-payload": { type: "boolean", default: false },
  },
  HELP,
);
if (!values.secret) fail("--secret whsec_… is required (see --help)", 2);
const port = intFlag("port", values.port) ?? 8090;
const printPayload = values["print-payload"] === true;

const line = (webhook: ReceivedWebhook) => {
  const answered = webhook.answeredStatus === 500 ? "  → 500 (--fail-first)" : "";
  const payload = printPayload ? `\n${webhook.rawBody}` : "";
  process.stdout.write(
    `${webhook.receivedAt.toISOString()} ${webhook.id} ${webhook.eventType ?? "(no type)"}${answered}${payload}\n`,
  );
};

let sink: WebhookSink;
try {
  sink = new WebhookSink({
    secret: values.secret,
    failFirst: intFlag("fail-first", values["fail-first"]),
    onWebhook: line,
    onRejected: (reason) => process.stdout.write(`${new Date().toISOString()} rejected with 401: ${reason}\n`),
  });
} catch {
  fail("--secret is not a usable key: expected whsec_ followed by base64", 2);
}
const url = await sink
  .start(port, values.host)
  .catch((error: unknown) => fail(listenFailure(error, "webhook sink", port)));
process.stdout.write(
  `Webhook sink on ${url}, verifying signatures${values["fail-first"] ? `, failing the first ${values["fail-first"]}` : ""}\n`,
);
const stop = () => void sink.stop().then(() => process.exit(0));
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
