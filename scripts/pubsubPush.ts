// A stand-in for a Pub/Sub push subscription, for trying the relay by hand:
//   npm run push -- --count 50 [--url http://localhost:3000/notifications] [--concurrency 10]
//                   [--form wrapped|unwrapped|body|mixed] [--dir examples/events] [--seed run1]
// Pushes each event and redelivers it until the relay answers 2xx, waiting as Retry-After says
// (1 s otherwise, like Pub/Sub's minimum backoff), through refused connections too. Prints what
// it saw: answers per status, the slowest answer, and the events acknowledged.
import { randomUUID } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";

const USAGE = `npm run push -- [options] — a Pub/Sub push stand-in: pushes events, redelivering until 2xx

  --url URL            where to push (default http://localhost:3000/notifications)
  --count N            events to make (default 50), or --dir FOLDER of event JSON files
  --concurrency N      pushes in flight (default 10)
  --form F             wrapped | unwrapped | body | mixed (default wrapped)
  --token T            sent as Authorization: Bearer T (an ingest token)
  --seed S             event id prefix (default random)
  --max-seconds N      give up after N seconds (default 300)
  --help               this text
`;

function parseFlags() {
  return parseArgs({
    options: {
      help: { type: "boolean", default: false },
      token: { type: "string" },
      url: { type: "string", default: "http://localhost:3000/notifications" },
      count: { type: "string", default: "50" },
      concurrency: { type: "string", default: "10" },
      form: { type: "string", default: "wrapped" },
      dir: { type: "string" },
      seed: { type: "string", default: randomUUID().slice(0, 8) },
      "max-seconds": { type: "string", default: "300" },
    },
  });
}
let parsed: ReturnType<typeof parseFlags>;
try {
  parsed = parseFlags();
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n${USAGE}`);
  process.exit(2);
}
const { values } = parsed;
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
if (!["wrapped", "unwrapped", "body", "mixed"].includes(values.form)) {
  process.stderr.write(`--form must be wrapped, unwrapped, body or mixed\n`);
  process.exit(2);
}

function events(): Array<Record<string, unknown>> {
  if (values.dir) {
    return readdirSync(values.dir)
      .filter((f) => f.endsWith(".json"))
      .map((f) => JSON.parse(readFileSync(join(values.dir!, f), "utf8")) as Record<string, unknown>);
  }
  return Array.from({ length: Number(values.count) }, (_, i) => ({
    object: "event",
    id: `evt_${values.seed}_${i}`,
    data: { object: "subscription", id: `sub_${i}`, status: "active" },
    datacontenttype: "application/json",
    project: `project-${i % 5}`,
    source: "https://api.gigs.com",
    specversion: "1.0",
    // Same seed, same events: a second run (or a second pusher) sends identical bodies.
    time: "2026-11-27T00:00:00Z",
    type: "subscription.activated",
    version: "2023-01-30",
  }));
}

const statusCounts = new Map<string, number>();
let slowestMs = 0;
let acked = 0;
const deadline = Date.now() + Number(values["max-seconds"]) * 1000;

async function push(event: Record<string, unknown>, index: number): Promise<void> {
  const form = values.form === "mixed" ? (["wrapped", "unwrapped", "body"] as const)[index % 3] : values.form;
  const messageId = String(1_000_000 + index);
  // Pub/Sub counts deliveries of a message when a dead-letter policy is set; Google's emulator does not send it.
  let deliveryAttempt = 0;
  while (Date.now() < deadline) {
    deliveryAttempt += 1;
    const headers: Record<string, string> = {
      "content-type": "application/json",
      ...(values.token ? { authorization: `Bearer ${values.token}` } : {}),
    };
    let body = JSON.stringify(event);
    if (form === "wrapped") {
      body = JSON.stringify({
        message: { data: Buffer.from(body).toString("base64"), messageId, publishTime: new Date().toISOString() },
        subscription: "projects/local/subscriptions/relay",
        deliveryAttempt,
      });
    } else if (form === "unwrapped") {
      headers["x-goog-pubsub-message-id"] = messageId;
      headers["x-goog-pubsub-subscription-name"] = "projects/local/subscriptions/relay";
    }
    const started = Date.now();
    let wait = 1000;
    try {
      const res = await fetch(values.url, { method: "POST", headers, body, signal: AbortSignal.timeout(10_000) });
      await res.arrayBuffer();
      slowestMs = Math.max(slowestMs, Date.now() - started);
      statusCounts.set(String(res.status), (statusCounts.get(String(res.status)) ?? 0) + 1);
      if (res.ok) {
        acked += 1;
        return;
      }
      if (res.status < 500 && res.status !== 429)
        throw new Error(`event ${String(event.id)}: ${res.status}, not redelivered`);
      const retryAfter = Number(res.headers.get("retry-after"));
      if (retryAfter > 0) wait = retryAfter * 1000;
    } catch (error) {
      if ((error as Error).message.includes("not redelivered")) throw error;
      const key = (error as Error).name === "TimeoutError" ? "no answer in 10 s" : "connection failed";
      statusCounts.set(key, (statusCounts.get(key) ?? 0) + 1);
    }
    await new Promise((r) => setTimeout(r, wait));
  }
}

const list = events();
let next = 0;
const started = Date.now();
await Promise.all(
  Array.from({ length: Number(values.concurrency) }, async () => {
    while (next < list.length) {
      const i = next++;
      await push(list[i]!, i);
    }
  }),
);
process.stdout.write(
  `${acked}/${list.length} events acknowledged in ${((Date.now() - started) / 1000).toFixed(1)} s; answers: ${JSON.stringify(Object.fromEntries(statusCounts))}; slowest answer ${slowestMs} ms\n`,
);
process.exit(acked === list.length ? 0 : 1);
