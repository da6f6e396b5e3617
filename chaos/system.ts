// The processes of a chaos run, each in a process group of its own (so kill -9 reaches it and
// everything it started), with its output in a log file of the run's directory: PostgreSQL,
// Google's Pub/Sub emulator, our Svix emulator, the relays and the pull worker.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { chmodSync, chownSync, closeSync, existsSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "../bench/children.ts";
import { relayNodeFlags } from "../bench/services.ts";

export const ROOT = join(import.meta.dirname, "..");
const PG_BIN = process.env.CHAOS_PG_BIN ?? "/usr/lib/postgresql/15/bin";
const PUBSUB_EMULATOR_BIN =
  process.env.PUBSUB_EMULATOR_BIN ?? "/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator";

export { freePort };

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function waitUntil(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

async function answers(url: string, expectText?: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
    return res.ok && (expectText === undefined || (await res.text()).trim() === expectText);
  } catch {
    return false;
  }
}

export interface Proc {
  name: string;
  child: ChildProcess;
  logFile: string;
  /** Resolves on exit: the code, or the signal's name. */
  exited: Promise<string>;
  /** Set when the run killed or stopped it on purpose. */
  expectedExit: boolean;
}

/** Starts and ends every process of the run; nothing outlives end() (or the chaos process). */
export class Supervisor {
  private readonly procs = new Set<Proc>();
  readonly logDir: string;
  readonly runDir: string;
  /** --keep: leave the processes running when the run ends. */
  keepOnExit = false;

  constructor(runDir: string) {
    this.runDir = runDir;
    this.logDir = join(runDir, "logs");
    mkdirSync(this.logDir, { recursive: true });
    // Synchronous, so it also runs when the runner dies of an exception.
    process.once("exit", () => {
      if (!this.keepOnExit) for (const p of this.procs) signalGroup(p, "SIGKILL");
    });
  }

  /** "name pid PID, log FILE" of each process still running. */
  running(): string[] {
    return [...this.procs].map((p) => `${p.name}: pid ${p.child.pid}, log ${p.logFile}`);
  }

  spawn(
    name: string,
    command: string,
    args: string[],
    options: { env?: NodeJS.ProcessEnv; cwd?: string; uid?: number; gid?: number } = {},
  ): Proc {
    const logFile = join(this.logDir, `${name}.log`);
    const fd = openSync(logFile, "a");
    const child = spawn(command, args, {
      cwd: options.cwd ?? ROOT,
      env: options.env ?? process.env,
      detached: true,
      stdio: ["ignore", fd, fd],
      ...(options.uid !== undefined ? { uid: options.uid, gid: options.gid } : {}),
    });
    closeSync(fd);
    const proc: Proc = {
      name,
      child,
      logFile,
      expectedExit: false,
      exited: new Promise((resolve) => {
        child.once("exit", (code, signal) => resolve(signal ?? String(code)));
        child.once("error", (error) => resolve(`error: ${error.message}`));
      }),
    };
    this.procs.add(proc);
    void proc.exited.then(() => this.procs.delete(proc));
    return proc;
  }

  /** kill -9 of the process's group; resolves once the leader is gone. */
  async kill(proc: Proc): Promise<void> {
    proc.expectedExit = true;
    signalGroup(proc, "SIGKILL");
    await proc.exited;
  }

  /** SIGTERM to the group, SIGKILL after timeoutMs. */
  async stop(proc: Proc, timeoutMs = 10_000): Promise<void> {
    proc.expectedExit = true;
    signalGroup(proc, "SIGTERM");
    const done = await Promise.race([proc.exited.then(() => true), sleep(timeoutMs).then(() => false)]);
    if (!done) await this.kill(proc);
  }

  async end(): Promise<void> {
    await Promise.all([...this.procs].map((p) => this.kill(p)));
  }
}

export function signalGroup(proc: Proc, signal: NodeJS.Signals): void {
  if (proc.child.pid === undefined) return;
  try {
    process.kill(-proc.child.pid, signal);
  } catch {
    // ESRCH: already gone.
  }
}

/** The last lines of a process's log, for a message about it. */
export function tail(proc: Proc, lines = 15): string {
  if (!existsSync(proc.logFile)) return "";
  return readFileSync(proc.logFile, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
}

// ---- PostgreSQL of its own -------------------------------------------------------------------

export interface Database {
  url: string;
  /** Fast shutdown (every connection cut), then a start again after downMs. */
  interruptByStop(downMs: number): Promise<void>;
  /** SIGSTOP of the postmaster's group for downMs, then SIGCONT: connections hang instead of failing. */
  interruptByPause(downMs: number): Promise<void>;
}

function postgresIds(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
  const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());
  return { uid, gid };
}

/** initdb in the run's directory and a postgres on a free port of 127.0.0.1 (as user postgres when we are root). */
export async function startDatabase(supervisor: Supervisor): Promise<Database> {
  const ids = postgresIds();
  const dataDir = join(supervisor.runDir, "pgdata");
  const socketDir = join(supervisor.runDir, "pgsock");
  mkdirSync(dataDir, { mode: 0o700 });
  mkdirSync(socketDir);
  if (ids) for (const dir of [dataDir, socketDir]) chownSync(dir, ids.uid, ids.gid);
  execFileSync(
    join(PG_BIN, "initdb"),
    ["-D", dataDir, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync", "--no-instructions"],
    { stdio: "ignore", cwd: "/", ...(ids ?? {}) },
  );
  const port = await freePort();
  const args = [
    ...["-D", dataDir, "-p", String(port), "-k", socketDir, "-h", "127.0.0.1"],
    ...["-c", "fsync=off", "-c", "full_page_writes=off", "-c", "max_connections=300"],
  ];
  let proc: Proc | undefined;
  let starts = 0;
  const adminUrl = `postgresql://postgres@127.0.0.1:${port}/postgres`;
  const start = async () => {
    starts += 1;
    proc = supervisor.spawn(`postgres-${starts}`, join(PG_BIN, "postgres"), args, { cwd: "/", ...(ids ?? {}) });
    await waitUntil("PostgreSQL to accept connections", () => canConnect(adminUrl), 30_000);
  };
  await start();
  const pg = await import("pg");
  const admin = new pg.default.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query("CREATE DATABASE relay");
  await admin.end();
  return {
    url: `postgresql://postgres@127.0.0.1:${port}/relay`,
    async interruptByStop(downMs) {
      const running = proc!;
      running.expectedExit = true;
      running.child.kill("SIGINT"); // fast shutdown: every session is terminated
      await Promise.race([running.exited, sleep(15_000)]);
      if (running.child.exitCode === null && running.child.signalCode === null) await supervisor.kill(running);
      await sleep(downMs);
      await start();
    },
    async interruptByPause(downMs) {
      signalGroup(proc!, "SIGSTOP");
      await sleep(downMs);
      signalGroup(proc!, "SIGCONT");
    },
  };
}

async function canConnect(url: string): Promise<boolean> {
  const pg = await import("pg");
  const client = new pg.default.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
  client.on("error", () => {});
  try {
    await client.connect();
    await client.end();
    return true;
  } catch {
    return false;
  }
}

// ---- Google's Pub/Sub emulator ----------------------------------------------------------------

export async function startPubsubEmulator(supervisor: Supervisor): Promise<{ host: string; proc: Proc }> {
  const dataDir = join(supervisor.runDir, "pubsub");
  mkdirSync(dataDir);
  chmodSync(dataDir, 0o755);
  const port = await freePort();
  const proc = supervisor.spawn("pubsub-emulator", PUBSUB_EMULATOR_BIN, ["--host=127.0.0.1", `--port=${port}`], {
    cwd: dataDir,
  });
  await waitUntil("Google's Pub/Sub emulator", () => answers(`http://127.0.0.1:${port}/`, "Ok"), 60_000);
  return { host: `127.0.0.1:${port}`, proc };
}

// ---- our Svix emulator, the relays and the worker ----------------------------------------------

export async function startSvixEmulator(supervisor: Supervisor): Promise<{ url: string; proc: Proc }> {
  const port = await freePort();
  const proc = supervisor.spawn("svix-emulator", process.execPath, ["src/bin/emulator.ts", "--port", String(port)]);
  const url = `http://127.0.0.1:${port}`;
  await waitUntil(
    "the Svix emulator",
    async () => (await answers(`${url}/_emulator/messages`)) || checkAlive(proc),
    30_000,
  );
  return { url, proc };
}

function checkAlive(proc: Proc): boolean {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null)
    throw new Error(`${proc.name} exited:\n${tail(proc)}`);
  return false;
}

/** Starts one of the relay's programs (node src/bin/…) and waits for its /healthz. */
export async function startNodeService(
  supervisor: Supervisor,
  name: string,
  script: string,
  env: NodeJS.ProcessEnv,
  port: number,
): Promise<Proc> {
  const proc = supervisor.spawn(name, process.execPath, [...relayNodeFlags(ROOT), script], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME ?? "/tmp", PORT: String(port), HOST: "127.0.0.1", ...env },
  });
  await waitUntil(
    `${name} on port ${port}`,
    async () => (await answers(`http://127.0.0.1:${port}/healthz`)) || checkAlive(proc),
    60_000,
  );
  return proc;
}

// ---- a database given by DATABASE_URL: interrupted through a TCP proxy ---------------------------

/**
 * With DATABASE_URL the run cannot stop the server (it may be shared), so the relays reach it
 * through this proxy, and an interruption cuts every connection and refuses new ones for a while.
 */
export async function proxiedDatabase(url: string): Promise<Database & { close(): void }> {
  const { createServer: createTcpServer, connect } = await import("node:net");
  const target = new URL(url);
  const sockets = new Set<import("node:net").Socket>();
  let refusing = false;
  let paused = false;
  const server = createTcpServer((client) => {
    if (refusing) return void client.destroy();
    if (paused) client.pause();
    const upstream = connect(Number(target.port || 5432), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  const proxied = new URL(url);
  proxied.hostname = "127.0.0.1";
  proxied.port = String(port);
  const cut = async (downMs: number) => {
    refusing = true;
    for (const s of sockets) s.destroy();
    await sleep(downMs);
    refusing = false;
  };
  return {
    url: proxied.toString(),
    interruptByStop: cut,
    // Bytes held back both ways: connections hang, as with a SIGSTOPped server.
    interruptByPause: async (downMs: number) => {
      paused = true;
      for (const s of sockets) s.pause();
      await sleep(downMs);
      paused = false;
      for (const s of sockets) s.resume();
    },
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}
