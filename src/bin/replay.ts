// `npm run replay -- --status failed [--project P] [--type T] [--since T] [--until T] [--limit N]`:
// replays notifications from a shell through the relay's own API (POST /notifications/replay),
// so it goes through the same claims, Svix guards and idempotency as everything else.
import { parseArgs } from "node:util";

const USAGE = `npm run replay -- --status failed|rejected|queued [options] — replay notifications

  --status S      failed | rejected | queued (required)
  --project P     only this project
  --type T        only this event type
  --since ISO     arrived at or after (e.g. 2026-11-30T00:00:00Z)
  --until ISO     arrived before
  --limit N       at most N notifications (1–1000, default 100)
  --url URL       the relay (default $RELAY_URL or http://localhost:3000)
  --help          this text
An operator token is read from $RELAY_API_TOKEN (never from the command line, which others can see).
Exit code 0 when everything matched was delivered or skipped, 1 when some still fail, 2 on bad input.
`;

function fail(message: string, code = 2): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

function parseFlags() {
  return parseArgs({
    options: {
      status: { type: "string" },
      project: { type: "string" },
      type: { type: "string" },
      since: { type: "string" },
      until: { type: "string" },
      limit: { type: "string" },
      url: { type: "string", default: process.env.RELAY_URL ?? "http://localhost:3000" },
      help: { type: "boolean", default: false },
    },
  }).values;
}
let values: ReturnType<typeof parseFlags>;
try {
  values = parseFlags();
} catch (error) {
  fail(`${(error as Error).message}\n\n${USAGE}`);
}
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
if (!values.status) fail(`--status is required\n\n${USAGE}`);
const body = {
  status: values.status,
  ...(values.project ? { project: values.project } : {}),
  ...(values.type ? { type: values.type } : {}),
  ...(values.since ? { since: values.since } : {}),
  ...(values.until ? { until: values.until } : {}),
  ...(values.limit ? { limit: Number(values.limit) } : {}),
};
const token = process.env.RELAY_API_TOKEN;
let res: Response;
try {
  res = await fetch(new URL("/notifications/replay", values.url), {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
} catch (error) {
  fail(`could not reach the relay at ${values.url}: ${(error as Error).message}`, 1);
}
const answer = (await res.json().catch(() => ({}))) as {
  data?: {
    matched: number;
    delivered: number;
    stillFailing: number;
    skippedDelivered: number;
    skippedInFlight: number;
    skippedPurged: number;
    results: Array<{ eventId: string; status: string }>;
  };
  error?: { code: string; message: string; details?: Array<{ path: string; message: string }> };
};
if (!res.ok || !answer.data) {
  const details = answer.error?.details?.map((d) => `\n  ${d.path}: ${d.message}`).join("") ?? "";
  fail(
    `the relay answered ${res.status}: ${answer.error?.message ?? "no message"}${details}`,
    res.status === 400 ? 2 : 1,
  );
}
const d = answer.data;
for (const r of d.results) process.stdout.write(`${r.eventId}\t${r.status}\n`);
process.stdout.write(
  `matched ${d.matched}: delivered ${d.delivered}, still failing ${d.stillFailing}, skipped (delivered ${d.skippedDelivered}, in flight ${d.skippedInFlight}, purged ${d.skippedPurged})\n`,
);
process.exit(d.stillFailing > 0 ? 1 : 0);
