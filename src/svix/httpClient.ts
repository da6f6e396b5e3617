import http from "node:http";
import https from "node:https";
import type { Socket } from "node:net";

/** What the svix SDK reads of an answer: the status, the headers (for Retry-After) and the body. */
export interface LeanResponse {
  status: number;
  /** What the SDK and we read of the headers (Retry-After; ApiException copies them all); lower-cased names. */
  headers: { get(name: string): string | null; forEach(callback: (value: string, name: string) => void): void };
  text(): Promise<string>;
}

/** An error with the name Svix-call classification reads as a timeout. */
class TimeoutError extends Error {
  override name = "TimeoutError";
}

/**
 * A fetch for the svix SDK over node:http with keep-alive connections. Node's fetch (undici)
 * costs more per call than the rest of a delivery — WHATWG streams and objects, and an
 * AbortSignal (with its timer and DOMException) per call — and that is CPU taken from every
 * event. The whole call, connection to last byte, is bounded by timeoutMs with one timer.
 */
export class LeanHttpClient {
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 512, scheduling: "lifo" });
  private readonly httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 512, scheduling: "lifo" });
  /** When each kept-alive connection last finished a call (performance.now()). */
  private readonly lastUsed = new WeakMap<Socket, number>();
  private readonly staleAfterMs: number;

  /**
   * `staleAfterMs` (1 s): a kept-alive connection idle at least this long that the server drops
   * unanswered was most likely closed by the server's idle timeout as the call went out (Node's
   * is 5 s, load balancers' a minute or more): the call goes again once, on a new connection.
   * One used more recently was dropped by a server that meant it: that is the call's failure.
   */
  constructor(options: { staleAfterMs?: number } = {}) {
    this.staleAfterMs = options.staleAfterMs ?? 1000;
  }

  request(
    url: URL,
    init: { method?: string; headers?: Record<string, string>; body?: string | null },
    timeoutMs: number,
  ): Promise<LeanResponse> {
    return new Promise((resolve, reject) => {
      const secure = url.protocol === "https:";
      let req: http.ClientRequest;
      const timer = setTimeout(() => req.destroy(new TimeoutError(`no answer within ${timeoutMs} ms`)), timeoutMs);
      const attempt = (again: boolean) => {
        req = (secure ? https : http).request(url, {
          method: init.method ?? "GET",
          headers: init.headers,
          agent: secure ? this.httpsAgent : this.httpAgent,
        });
        let socket: Socket | undefined;
        req.once("socket", (s: Socket) => {
          socket = s;
        });
        req.once("error", (error: NodeJS.ErrnoException) => {
          // A kept-alive connection that the server had closed as the call went out (its idle
          // timeout): nothing was answered on it. The call goes again once, on a new connection,
          // as Node's documentation advises; a message create carries its idempotency key, so
          // even a request the server had read is not made twice.
          const used = socket && this.lastUsed.get(socket);
          const stale = req.reusedSocket && used !== undefined && performance.now() - used >= this.staleAfterMs;
          if (!again && stale && (error.code === "ECONNRESET" || error.code === "EPIPE")) {
            attempt(true);
            return;
          }
          clearTimeout(timer);
          reject(error);
        });
        req.once("response", (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.once("error", (error) => {
            clearTimeout(timer);
            reject(error);
          });
          res.once("end", () => {
            clearTimeout(timer);
            if (socket) this.lastUsed.set(socket, performance.now());
            const body = chunks.length === 1 ? chunks[0]!.toString("utf8") : Buffer.concat(chunks).toString("utf8");
            const raw = res.headers;
            const headers = {
              get: (name: string) => {
                const value = raw[name.toLowerCase()];
                return typeof value === "string" ? value : null;
              },
              forEach: (callback: (value: string, name: string) => void) => {
                for (const [name, value] of Object.entries(raw)) if (typeof value === "string") callback(value, name);
              },
            };
            resolve({ status: res.statusCode ?? 0, headers, text: async () => body });
          });
        });
        req.end(init.body ?? undefined);
      };
      attempt(false);
    });
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}
