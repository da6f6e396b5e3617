import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";
import { relayNodeFlags } from "../../bench/services.ts";

const ROOT = join(import.meta.dirname, "..", "..");

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface RelayProcess {
  url: string;
  child: ChildProcess;
  output: string[];
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
}

/**
 * Starts one of the relay's programs as its npm script does (`node <flags> <script>`, one process,
 * so SIGKILL reaches it) and waits for the log line that says it is ready.
 */
export async function startNodeProcess(
  script: string,
  env: Record<string, string>,
  readyMessage: string,
  port: number,
): Promise<RelayProcess> {
  const child = spawn(process.execPath, [...relayNodeFlags(ROOT), script], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "/tmp",
      PORT: String(port),
      HOST: "127.0.0.1",
      LOG_LEVEL: "info",
      // Open unless a test configures credentials (then OPEN_API changes nothing).
      OPEN_API: "true",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const collect = (chunk: Buffer) => output.push(...chunk.toString().split("\n").filter(Boolean));
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const started = Date.now();
  while (!output.some((l) => l.includes(`"${readyMessage}"`))) {
    if (child.exitCode !== null || Date.now() - started > 60_000) {
      child.kill("SIGKILL");
      throw new Error(`${script} did not start:\n${output.join("\n")}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url: `http://127.0.0.1:${port}`, child, output, exited };
}

/** Starts `node src/bin/relay.ts` — what `npm start` runs — and waits until it listens. */
export async function startRelayProcess(env: Record<string, string>, port?: number): Promise<RelayProcess> {
  return startNodeProcess("src/bin/relay.ts", env, "relay listening", port ?? (await freePort()));
}

/** POST /notifications with a JSON body (an event, or a Pub/Sub envelope). */
export function postNotification(baseUrl: string, body: unknown, init: RequestInit = {}): Promise<Response> {
  return fetch(`${baseUrl}/notifications`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    ...init,
  });
}

/** Like Pub/Sub: posts until 2xx, through connection errors (a dead relay) and 429/503. */
export async function pushUntilAcked(url: () => string, body: unknown, maxMs = 60_000): Promise<number[]> {
  const seen: number[] = [];
  const deadline = Date.now() + maxMs;
  while (Date.now() < deadline) {
    let wait = 200;
    try {
      const res = await postNotification(url(), body, { signal: AbortSignal.timeout(10_000) });
      seen.push(res.status);
      await res.arrayBuffer();
      if (res.ok) return seen;
      if (res.status !== 429 && res.status !== 503) throw new Error(`unexpected status ${res.status}`);
      const retryAfter = Number(res.headers.get("retry-after") ?? 0);
      if (retryAfter > 0) wait = retryAfter * 1000;
    } catch (error) {
      if ((error as Error).message.startsWith("unexpected status")) throw error;
      seen.push(0);
    }
    await new Promise((r) => setTimeout(r, wait));
  }
  throw new Error(`not acknowledged in ${maxMs} ms: ${seen.join(",")}`);
}
