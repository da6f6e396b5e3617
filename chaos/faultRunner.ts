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
  private svixChanges: Promise<void> = Promise.resolve();
  /** When the worker was last killed (0: never), for the drain: its leases expire later. */
  lastWorkerKillAt = 0;
  private readonly activeSvixRules = new Set<Record<string, unknown>>();

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
        this.lastWorkerKillAt = Date.now();
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
        return this.svixRule(`${fault.status} to every message.create`, fault, {
          kind: "status",
          status: fault.status,
        });
      case "svix429":
        this.counts.svix429 += 1;
        return this.svixRule(`429 Retry-After ${fault.retryAfterSeconds} to every message.create`, fault, {
          kind: "status",
          status: 429,
          retryAfter: String(fault.retryAfterSeconds ?? 1),
        });
      case "svixHang":
        this.counts.svixHang += 1;
        return this.svixRule("no answer to message.create", fault, { kind: "hang" });
      case "svixLatency":
        this.counts.svixLatency += 1;
        return this.svixRule(`up to ${fault.maxLatencyMs} ms latency on message.create`, fault, {
          kind: "latency",
          minMs: 200,
          maxMs: fault.maxLatencyMs ?? 2000,
        });
    }
  }

  private skip(why: string): void {
    this.counts.skipped += 1;
    this.note(`skipped: ${why}`);
  }

  /**
   * Puts the rule in place for the fault's duration. The emulator's rules can only be cleared all
   * at once, so at the end the rules still due are put back; changes are made one at a time.
   */
  private async svixRule(what: string, fault: Fault, rule: Record<string, unknown>): Promise<void> {
    const url = this.parts.emulatorUrl;
    if (!url) return;
    const entry = { ...rule, operation: "message.create" };
    const post = async (rules: unknown[]) => {
      if (rules.length === 0) return;
      const res = await fetch(`${url}/_emulator/faults`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(rules),
      });
      if (res.status !== 201) throw new Error(`the emulator refused the fault: ${res.status} ${await res.text()}`);
    };
    this.svixChanges = this.svixChanges
      .catch(() => {})
      .then(async () => {
        this.activeSvixRules.add(entry);
        await post([entry]);
        this.note(`Svix: ${what} for ${fault.durationMs} ms`);
      });
    await this.svixChanges;
    await sleep(fault.durationMs ?? 1000);
    this.svixChanges = this.svixChanges
      .catch(() => {})
      .then(async () => {
        this.activeSvixRules.delete(entry);
        await fetch(`${url}/_emulator/faults`, { method: "DELETE" });
        await post([...this.activeSvixRules]);
        this.note(`Svix: ${what} over`);
      });
    await this.svixChanges;
  }
}
