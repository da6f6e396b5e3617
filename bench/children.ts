// The benchmark's child processes (emulator, relay, bare forwarder): started with this Node
// (npm's Node 24, not whatever `node` is on PATH), output kept in a log file, stopped with
// SIGTERM and waited for, SIGKILL only when one does not exit in time.
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream } from "node:fs";
import { createServer } from "node:net";

export interface Child {
  name: string;
  /** The node arguments it was started with. */
  args: string[];
  pid: number;
  proc: ChildProcess;
  /** Settles when the process has exited (never rejects). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  alive(): boolean;
  /** The last lines it wrote, for error messages. */
  tail(): string;
  /** Resolves with the first stdout/stderr line matching `pattern`; rejects if it exits first. */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
}

export interface ChildSpec {
  name: string;
  /** Arguments for node, script included. */
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  logFile: string;
}

const TAIL_LINES = 40;

export function startChild(spec: ChildSpec): Child {
  const proc = spawn(process.execPath, spec.args, { cwd: spec.cwd, env: spec.env, stdio: ["ignore", "pipe", "pipe"] });
  if (proc.pid === undefined) throw new Error(`${spec.name} did not start`);
  const log = createWriteStream(spec.logFile);
  const lines: string[] = [];
  const watchers = new Set<(line: string) => void>();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once("exit", (code, signal) => resolve({ code, signal })),
  );
  void exited.then(() => log.end());
  for (const stream of [proc.stdout, proc.stderr]) {
    let partial = "";
    stream.on("data", (chunk: Buffer) => {
      log.write(chunk);
      const parts = (partial + chunk.toString("utf8")).split("\n");
      partial = parts.pop() ?? "";
      for (const line of parts) {
        lines.push(line);
        if (lines.length > TAIL_LINES) lines.shift();
        for (const watch of watchers) watch(line);
      }
    });
  }
  const alive = () => proc.exitCode === null && proc.signalCode === null;
  const waitForLine = (pattern: RegExp, timeoutMs: number) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const done = (error?: Error, match?: RegExpMatchArray) => {
        clearTimeout(timer);
        watchers.delete(watch);
        if (error) reject(error);
        else resolve(match!);
      };
      const watch = (line: string) => {
        const match = line.match(pattern);
        if (match) done(undefined, match);
      };
      const timer = setTimeout(
        () => done(new Error(`${spec.name} did not print ${pattern} within ${timeoutMs} ms:\n${lines.join("\n")}`)),
        timeoutMs,
      );
      watchers.add(watch);
      void exited.then(({ code, signal }) =>
        done(new Error(`${spec.name} exited (${code ?? signal}) before it was ready:\n${lines.join("\n")}`)),
      );
    });
  return {
    name: spec.name,
    args: spec.args,
    pid: proc.pid,
    proc,
    exited,
    alive,
    tail: () => lines.join("\n"),
    waitForLine,
  };
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
export async function stopChild(
  child: Child,
  graceMs = 20_000,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.alive()) child.proc.kill("SIGTERM");
  const timer = setTimeout(() => {
    process.stdout.write(`  ${child.name} did not exit ${graceMs} ms after SIGTERM: SIGKILL\n`);
    child.proc.kill("SIGKILL");
  }, graceMs);
  const result = await child.exited;
  clearTimeout(timer);
  return result;
}

/** Polls `url` until it answers 200; rejects when the child exits or time runs out. */
export async function waitForHttp(child: Child, url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!child.alive()) throw new Error(`${child.name} exited before it was ready:\n${child.tail()}`);
    const ok = await fetch(url, { signal: AbortSignal.timeout(2000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await sleep(200);
  }
  throw new Error(`${child.name} was not ready at ${url} within ${timeoutMs} ms:\n${child.tail()}`);
}

/** A port nothing listens on right now (for children that cannot report the port they took). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address === "string") throw new Error("no free port");
  return address.port;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
