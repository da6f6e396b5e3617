// `npm run emulator -- [--port 8071] [--api-key KEY] [--rate-limit 10] [--retry-after 1]
//   [--fail-first 30] [--fail-status 503] [--hang 2] [--latency 100-300]`
// A standalone Svix emulator with faults, for trying the relay by hand (SVIX_SERVER_URL=…).
// Faults can also be changed while it runs: POST /_emulator/faults, PUT /_emulator/rate-limit.
import { parseArgs } from "node:util";
import type { FaultRule } from "./faults.ts";
import { SvixEmulator } from "./svixEmulator.ts";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "8071" },
    "api-key": { type: "string" },
    "rate-limit": { type: "string" },
    "retry-after": { type: "string" },
    "fail-first": { type: "string" },
    "fail-status": { type: "string", default: "503" },
    hang: { type: "string" },
    latency: { type: "string" },
  },
});

const emulator = new SvixEmulator({ apiKey: values["api-key"] });
const rules: FaultRule[] = [];
if (values["fail-first"]) rules.push({ kind: "status", status: Number(values["fail-status"]), operation: "message.create", times: Number(values["fail-first"]) });
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
const url = await emulator.start(Number(values.port), "127.0.0.1");
process.stdout.write(`Svix emulator on ${url} (faults: ${JSON.stringify(rules)}${values["rate-limit"] ? `, ${values["rate-limit"]} req/s` : ""})\n`);
process.stdout.write(`  messages: curl ${url}/_emulator/messages\n`);
const stop = () => void emulator.stop().then(() => process.exit(0));
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
