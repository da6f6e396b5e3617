import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { Webhook } from "svix";
import { TrackedServer } from "./trackedServer.ts";

/** Larger than Svix's 1 MiB payload limit, small enough that a stray upload cannot fill memory. */
const MAX_BODY_BYTES = 2 * 1024 * 1024;

export interface WebhookSinkOptions {
  /** The endpoint's `whsec_…` secret; every request must carry a valid Svix signature for it. */
  secret: string;
  /** Answer this many verified webhooks with 500 first, to watch Svix (or the emulator) retry. */
  failFirst?: number;
  /** Called for each verified webhook, after its answer was chosen. */
  onWebhook?: (webhook: ReceivedWebhook) => void;
  /** Called for each request refused with 401 (the reason names no secret). */
  onRejected?: (reason: string) => void;
}

export interface ReceivedWebhook {
  /** The svix-id header: the message id (or the operational event's id). */
  id: string;
  /** The svix-timestamp header. */
  timestamp: Date;
  receivedAt: Date;
  path: string;
  /** The body's `type` when it has one (operational webhooks, Gigs events), else null. */
  eventType: string | null;
  /** The exact bytes that were verified. */
  rawBody: string;
  /** The svix-* (and webhook-*) headers it came with, to verify again or inspect. */
  signatureHeaders: Record<string, string>;
  /** Parsed JSON, or undefined when the body is not JSON. */
  body: unknown;
  /** What the sink answered: 204, or 500 while failing the first ones. */
  answeredStatus: 204 | 500;
}

function eventTypeOf(body: unknown): string | null {
  const type = (body as { type?: unknown } | null)?.type;
  return typeof type === "string" ? type : null;
}

function singleHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) if (typeof value === "string") out[name] = value;
  return out;
}

/**
 * A local webhook receiver: an HTTP server that checks each request's Svix signature with the
 * svix SDK (`Webhook.verify`), keeps what it verified in memory, and answers 204, 401 for a bad
 * or missing signature, or 500 for the first `failFirst` webhooks.
 */
export class WebhookSink {
  readonly received: ReceivedWebhook[] = [];
  /** Requests refused with 401. */
  rejected = 0;
  private failRemaining: number;
  private readonly webhook: Webhook;
  private readonly listener = new TrackedServer("webhook sink");
  private readonly waiters = new Set<() => void>();

  private readonly options: WebhookSinkOptions;

  constructor(options: WebhookSinkOptions) {
    this.options = options;
    this.webhook = new Webhook(options.secret);
    this.failRemaining = options.failFirst ?? 0;
  }

  /** Starts listening (port 0: any free port) and returns the base URL. */
  async start(port = 0, host = "127.0.0.1"): Promise<string> {
    // A client that hangs up mid-body must not take the process down with an unhandled rejection.
    const server = createServer((req, res) => void this.handle(req, res).catch(() => res.destroy()));
    await this.listener.listen(server, port, host);
    return this.url;
  }

  get url(): string {
    return `${this.listener.url}/`;
  }

  async stop(): Promise<void> {
    await this.listener.close();
  }

  /** Answers the next `count` verified webhooks with 500 (Infinity: until told otherwise). */
  failNext(count: number): void {
    this.failRemaining = count;
  }

  /** The webhooks answered 204. */
  accepted(): ReceivedWebhook[] {
    return this.received.filter((w) => w.answeredStatus === 204);
  }

  clear(): void {
    this.received.length = 0;
    this.rejected = 0;
  }

  /** Resolves with `received` once `done(received)` holds; rejects after `timeoutMs` milliseconds. */
  async waitFor(done: (received: ReceivedWebhook[]) => boolean, timeoutMs = 5000): Promise<ReceivedWebhook[]> {
    if (done(this.received)) return this.received;
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!done(this.received)) return;
        cleanup();
        resolve(this.received);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`webhook sink: condition not met within ${timeoutMs} ms (${this.received.length} received)`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== "POST") return void res.writeHead(405, { allow: "POST" }).end();
    const raw = await readBody(req);
    if (raw === undefined) return void res.writeHead(413).end();
    const headers = singleHeaders(req);
    try {
      this.webhook.verify(raw, headers);
    } catch (error) {
      this.rejected += 1;
      this.options.onRejected?.((error as Error).message);
      return void res
        .writeHead(401, { "content-type": "application/json" })
        .end(JSON.stringify({ error: "invalid signature" }));
    }
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      body = undefined;
    }
    const failing = this.failRemaining > 0;
    if (failing) this.failRemaining -= 1;
    const webhook: ReceivedWebhook = {
      id: headers["svix-id"] ?? headers["webhook-id"] ?? "",
      timestamp: new Date(Number(headers["svix-timestamp"] ?? headers["webhook-timestamp"]) * 1000),
      receivedAt: new Date(),
      path: req.url ?? "/",
      eventType: eventTypeOf(body),
      rawBody: raw,
      signatureHeaders: Object.fromEntries(Object.entries(headers).filter(([name]) => /^(svix|webhook)-/.test(name))),
      body,
      answeredStatus: failing ? 500 : 204,
    };
    this.received.push(webhook);
    res.writeHead(webhook.answeredStatus).end();
    this.options.onWebhook?.(webhook);
    for (const waiter of [...this.waiters]) waiter();
  }
}

/** The request body as UTF-8, or undefined when it is larger than MAX_BODY_BYTES. */
async function readBody(req: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}
