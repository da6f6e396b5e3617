// The baseline the relay is measured against: the least a service can do to turn an HTTP post
// into a Svix message. Parse the JSON body (a Pub/Sub push envelope: decode its base64 data and
// parse that), one `message.create` with the svix SDK, answer 200. No validation, no database, no
// retries of its own, no resilience.
//   PORT=0 SVIX_API_KEY=… SVIX_SERVER_URL=http://127.0.0.1:8071 node bench/bareForwarder.ts
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Svix } from "svix";

interface ForwardedEvent {
  id: string;
  type: string;
  project: string;
}

/** A wrapped Pub/Sub push: the event is the message's data, base64. */
interface PushEnvelope {
  message: { data: string };
}

const apiKey = process.env.SVIX_API_KEY;
const serverUrl = process.env.SVIX_SERVER_URL;
if (!apiKey || !serverUrl) {
  process.stderr.write("bareForwarder: SVIX_API_KEY and SVIX_SERVER_URL are required\n");
  process.exit(1);
}
const svix = new Svix(apiKey, { serverUrl });

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== "POST") return reply(res, 404, { error: "POST an event" });
  const body = JSON.parse(await readBody(req)) as Record<string, unknown>;
  const event = (
    "message" in body && !("object" in body)
      ? JSON.parse(Buffer.from((body as unknown as PushEnvelope).message.data, "base64").toString("utf8"))
      : body
  ) as ForwardedEvent & Record<string, unknown>;
  const message = await svix.message.create(event.project, {
    eventType: event.type,
    eventId: event.id,
    payload: event,
    application: { name: event.project, uid: event.project },
  });
  reply(res, 200, { eventId: event.id, svixMessageId: message.id });
}

const server = createServer((req, res) => {
  // A failure is answered as one (not 200) so that the benchmark does not count it as forwarded.
  handle(req, res).catch((error: unknown) =>
    reply(res, 502, { error: error instanceof Error ? error.message : String(error) }),
  );
});
server.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
  process.stdout.write(`bare forwarder on http://127.0.0.1:${(server.address() as AddressInfo).port}\n`);
});

const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
