// Carries out the schedule: kill -9 and restart of a relay or the worker, the database stopped or
// paused, Svix fault rules through our emulator's control API. Also restarts a relay or worker
// that died on its own — and records it, since a process dying under faults is a finding.
import type { Database } from "./system.ts";
import { type Proc, type Supervisor, sleep, startNodeService, tail } from "./system.ts";
import type { Fault } from "./schedule.ts";

/** A relay or the worker: always on the same port, restarted after a kill. */
export class Service {
  proc: Proc | undefined;
  down = false;
  starts = 0;
  readonly name: string;
  readonly script: string;
  readonly env: NodeJS.ProcessEnv;
  readonly port: number;
  private readonly supervisor: Supervisor;
  private readonly onUnexpectedExit: (service: Service, how: string, log: string) => void;

  constructor(
    name: string,
    script: string,
    env: NodeJS.ProcessEnv,
    port: number,
    supervisor: Supervisor,
    onUnexpectedExit: (service: Service, how: string, log: string) => void,
  ) {
    this.name = name;
    this.script = script;
    this.env = env;
    this.port = port;
    this.supervisor = supervisor;
    this.onUnexpectedExit = onUnexpectedExit;
  }

  async start(): Promise<void> {
    this.starts += 1;
    const proc = await startNodeService(
      this.supervisor,
      `${this.name}-${this.starts}`,
      this.script,
      this.env,
      this.port,
    );
    this.proc = proc;
    this.down = false;
    void proc.exited.then(async (how) => {
      if (proc.expectedExit || this.proc !== proc) return;
      this.down = true;
      this.onUnexpectedExit(this, how, tail(proc, 30));
      await sleep(1000);
      await this.start().catch(() => {});
    });
  }

  async kill9(downMs: number): Promise<void> {
    if (!this.proc || this.down) return;
    this.down = true;
    await this.supervisor.kill(this.proc);
    await sleep(downMs);
    await this.start();
  }

  async stop(): Promise<void> {
    if (this.proc) await this.supervisor.stop(this.proc);
  }
}

export interface FaultCounts {
  instanceKilled: number;
  workerKilled: number;
  databaseInterrupted: number;
  databaseStopped: number;
  databasePaused: number;
  svix5xx: number;
  svix429: number;
  svixHang: number;
  svixLatency: number;
  /** Relays or workers that died without being killed (then restarted). */
  unexpectedExits: number;
  /** Faults not carried out (their target was already down). */
  skipped: number;
}

export function noFaults(): FaultCounts {
  return {
    instanceKilled: 0,
    workerKilled: 0,
    databaseInterrupted: 0,
    databaseStopped: 0,
    databasePaused: 0,
    svix5xx: 0,
    svix429: 0,
    svixHang: 0,
    svixLatency: 0,
    unexpectedExits: 0,
    skipped: 0,
  };
}

export interface FaultTargets {
  relays: Service[];
  worker: Service;
  database: Database;
  /** Our emulator's URL; undefined with an external Svix (no Svix faults). */
  emulatorUrl: string | undefined;
}

export class FaultRunner {
  readonly counts = noFaults();
  /** What happened when, in seconds since publishing started. */
  readonly timeline: string[] = [];
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly running = new Set<Promise<void>>();
  private startedAt = 0;
  private readonly parts: FaultTargets;

  constructor(parts: FaultTargets) {
    this.parts = parts;
  }

  note(line: string): void {
    const at = this.startedAt ? ((Date.now() - this.startedAt) / 1000).toFixed(1) : "0.0";
    this.timeline.push(`${at.padStart(6)} s  ${line}`);
  }

  start(schedule: readonly Fault[]): void {
    this.startedAt = Date.now();
    for (const fault of schedule) {
      this.timers.push(
        setTimeout(() => {
          const run = this.run(fault).catch((error: Error) => this.note(`${fault.kind} failed: ${error.message}`));
          this.running.add(run);
          void run.finally(() => this.running.delete(run));
        }, fault.atMs),
      );
    }
  }

  /** Stops the faults not yet started and waits for those under way (restarts included). */
  async finish(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  private async run(fault: Fault): Promise<void> {
    const { relays, worker, database } = this.parts;
    switch (fault.kind) {
      case "relayKill": {
        const relay = relays[fault.target ?? 0]!;
        if (relay.down) return this.skip(`kill -9 ${relay.name}: already down`);
        this.counts.instanceKilled += 1;
        this.note(`kill -9 ${relay.name} (pid ${relay.proc?.child.pid}), restart in ${fault.downMs} ms`);
        await relay.kill9(fault.downMs ?? 1000);
        return this.note(`${relay.name} restarted`);
      }
      case "workerKill":
        if (worker.down) return this.skip("kill -9 worker: already down");
        this.counts.workerKilled += 1;
        this.note(`kill -9 worker (pid ${worker.proc?.child.pid}), restart in ${fault.downMs} ms`);
        await worker.kill9(fault.downMs ?? 1000);
        return this.note("worker restarted");
      case "databaseStop":
        this.counts.databaseInterrupted += 1;
        this.counts.databaseStopped += 1;
        this.note(`PostgreSQL stopped (fast shutdown) for ${fault.downMs} ms`);
        await database.interruptByStop(fault.downMs ?? 3000);
        return this.note("PostgreSQL back");
      case "databasePause":
        this.counts.databaseInterrupted += 1;
        this.counts.databasePaused += 1;
        this.note(`PostgreSQL paused (SIGSTOP) for ${fault.downMs} ms`);
        await database.interruptByPause(fault.downMs ?? 3000);
        return this.note("PostgreSQL resumed (SIGCONT)");
      case "svix5xx":
        this.counts.svix5xx += 1;
        this.note(`Svix: ${fault.status} to the next ${fault.calls} message.create calls`);
        return this.svixRule({ kind: "status", status: fault.status, times: fault.calls });
      case "svix429":
        this.counts.svix429 += 1;
        this.note(`Svix: 429 Retry-After ${fault.retryAfterSeconds} to the next ${fault.calls} message.create calls`);
        return this.svixRule({
          kind: "status",
          status: 429,
          retryAfter: String(fault.retryAfterSeconds ?? 1),
          times: fault.calls,
        });
      case "svixHang":
        this.counts.svixHang += 1;
        this.note(`Svix: no answer to the next ${fault.calls} message.create calls`);
        return this.svixRule({ kind: "hang", times: fault.calls });
      case "svixLatency":
        this.counts.svixLatency += 1;
        this.note(`Svix: up to ${fault.maxLatencyMs} ms latency on the next ${fault.calls} message.create calls`);
        return this.svixRule({ kind: "latency", minMs: 200, maxMs: fault.maxLatencyMs ?? 2000, times: fault.calls });
    }
  }

  private skip(why: string): void {
    this.counts.skipped += 1;
    this.note(`skipped: ${why}`);
  }

  private async svixRule(rule: Record<string, unknown>): Promise<void> {
    if (!this.parts.emulatorUrl) return;
    const res = await fetch(`${this.parts.emulatorUrl}/_emulator/faults`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ...rule, operation: "message.create" }),
    });
    if (res.status !== 201) throw new Error(`the emulator refused the fault: ${res.status} ${await res.text()}`);
  }
}
