import type { Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";

/**
 * A dev tool's HTTP server that can be stopped at once: it remembers its open connections and
 * cuts them at close (a keep-alive client would otherwise hold `close()` open).
 */
export class TrackedServer {
  private readonly sockets = new Set<Socket>();
  private server: Server | undefined;
  private readonly what: string;

  constructor(what: string) {
    this.what = what;
  }

  /** Listens on `host:port` (port 0: any free port) and returns the base URL. */
  async listen(server: Server, port: number, host: string): Promise<string> {
    server.listen(port, host);
    await new Promise<void>((resolve, reject) => server.once("listening", resolve).once("error", reject));
    server.on("connection", (socket) => {
      this.sockets.add(socket);
      socket.once("close", () => this.sockets.delete(socket));
    });
    this.server = server;
    return this.url;
  }

  get url(): string {
    const address = this.server?.address() as AddressInfo | null | undefined;
    if (!address) throw new Error(`the ${this.what} is not listening`);
    return `http://${address.address}:${address.port}`;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    const server = this.server;
    this.server = undefined;
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }
}
