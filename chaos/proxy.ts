// The load balancer in front of the relays: Pub/Sub pushes to one URL, the proxy hands each push
// to the next relay in turn. A relay that refuses the connection (killed) is skipped for that
// request; a relay that dies mid-request costs the push a 502, which Pub/Sub redelivers.
import { Agent, createServer, type IncomingMessage, request, type Server, type ServerResponse } from "node:http";

export class RoundRobinProxy {
  private next = 0;
  private server: Server | undefined;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 128 });
  inFlight = 0;
  lastRequestAt = 0;
  /** Answers by status ("502" when no relay answered). */
  readonly answers = new Map<string, number>();
  /** Pub/Sub message ids of the pushes a relay answered 2xx (acknowledged). */
  readonly acknowledged = new Set<string>();

  private readonly ports: () => number[];

  constructor(ports: () => number[]) {
    this.ports = ports;
  }

  async listen(port: number): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(port, "127.0.0.1", resolve));
    return `http://127.0.0.1:${port}`;
  }

  async close(): Promise<void> {
    this.agent.destroy();
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve) ?? resolve(undefined));
  }

  private count(status: number): void {
    const key = String(status);
    this.answers.set(key, (this.answers.get(key) ?? 0) + 1);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.inFlight += 1;
    this.lastRequestAt = Date.now();
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const body = Buffer.concat(chunks);
      const ports = this.ports();
      for (let tried = 0; tried < ports.length; tried++) {
        const port = ports[this.next++ % ports.length]!;
        const answered = await this.forward(port, req, body, res);
        if (answered) return;
      }
      this.count(502);
      res.writeHead(502).end();
    } finally {
      this.inFlight -= 1;
      this.lastRequestAt = Date.now();
    }
  }

  private noteAcknowledged(body: Buffer): void {
    try {
      const id = (JSON.parse(body.toString("utf8")) as { message?: { messageId?: unknown } }).message?.messageId;
      if (typeof id === "string") this.acknowledged.add(id);
    } catch {
      // Not a wrapped push: nothing to note.
    }
  }

  /** False when the relay refused the connection (try the next); true once the push got an answer. */
  private forward(port: number, req: IncomingMessage, body: Buffer, res: ServerResponse): Promise<boolean> {
    return new Promise((resolve) => {
      const upstream = request(
        { host: "127.0.0.1", port, method: req.method, path: req.url, headers: req.headers, agent: this.agent },
        (answer) => {
          const chunks: Buffer[] = [];
          answer.on("data", (chunk: Buffer) => chunks.push(chunk));
          answer.on("end", () => {
            this.count(answer.statusCode ?? 502);
            if (answer.statusCode !== undefined && answer.statusCode < 300) this.noteAcknowledged(body);
            res.writeHead(answer.statusCode ?? 502, answer.headers).end(Buffer.concat(chunks));
            resolve(true);
          });
          answer.on("error", () => {
            this.count(502);
            if (!res.headersSent) res.writeHead(502);
            res.end();
            resolve(true);
          });
        },
      );
      upstream.on("error", (error: NodeJS.ErrnoException) => {
        if (error.code === "ECONNREFUSED") return resolve(false);
        this.count(502);
        if (!res.headersSent) res.writeHead(502);
        res.end();
        resolve(true);
      });
      upstream.end(body);
    });
  }
}
