// CPU time and memory of a process from /proc (Linux): what it cost, whatever it did inside
// (every thread: event loop, GC, libuv pool).
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

let clockTicks: number | undefined;

/** `getconf CLK_TCK`: the unit of utime/stime in /proc/<pid>/stat (100 nearly everywhere). */
export function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** utime + stime of the process so far, in ms; undefined when it is gone. */
export function cpuMs(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1000) / ticksPerSecond();
}

/** Resident memory of the process now, in MB; undefined when it is gone. */
export function rssMb(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

export interface RssSampler {
  stop(): { peakMb: number; startMb: number; endMb: number; samples: number };
}

/** Samples VmRSS every `intervalMs` until stopped; the peak is what the overload target is about. */
export function sampleRss(pid: number, intervalMs = 100): RssSampler {
  const startMb = rssMb(pid) ?? 0;
  let peakMb = startMb;
  let lastMb = startMb;
  let samples = 1;
  const timer = setInterval(() => {
    const mb = rssMb(pid);
    if (mb === undefined) return;
    samples += 1;
    lastMb = mb;
    if (mb > peakMb) peakMb = mb;
  }, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      const endMb = rssMb(pid) ?? lastMb;
      return { peakMb: Math.max(peakMb, endMb), startMb, endMb, samples };
    },
  };
}

/** CPU ms spent by several processes between two snapshots. */
export class CpuMeter {
  private readonly pids: Record<string, number>;
  private readonly start: Map<string, number | undefined>;

  constructor(pids: Record<string, number>) {
    this.pids = pids;
    this.start = new Map(Object.entries(pids).map(([name, pid]) => [name, cpuMs(pid)]));
  }

  /** ms of CPU each process used since construction (NaN for one that vanished). */
  read(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, pid] of Object.entries(this.pids)) {
      const before = this.start.get(name);
      const after = cpuMs(pid);
      out[name] = before === undefined || after === undefined ? Number.NaN : after - before;
    }
    return out;
  }
}

/** CPU ms so far of each thread name of the process (V8's GC/compiler "V8Worker"s summed). */
export function threadCpuMs(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").trim();
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const ms = ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond();
      out.set(name, (out.get(name) ?? 0) + ms);
    } catch {
      // The thread ended between listing and reading: its time is gone with it.
    }
  }
  return out;
}

/** CPU ms per thread name between construction and read(): where a process's CPU went. */
export class ThreadMeter {
  private readonly pid: number;
  private readonly start: Map<string, number>;

  constructor(pid: number) {
    this.pid = pid;
    this.start = threadCpuMs(pid);
  }

  read(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, ms] of threadCpuMs(this.pid)) out[name] = ms - (this.start.get(name) ?? 0);
    return out;
  }
}

/**
 * Pids whose command line contains `needle`, e.g. the PostgreSQL backends serving one database;
 * with `byName`, pids whose process name (comm) is `needle`: every process of a PostgreSQL server.
 */
function pidsMatching(needle: string, byName = false): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const matches = byName
        ? readFileSync(`/proc/${entry}/comm`, "utf8").trim() === needle
        : readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(needle);
      if (matches) pids.push(Number(entry));
    } catch {
      // Gone, or not ours to read.
    }
  }
  return pids;
}

/**
 * CPU ms of every process whose command line contains `needle` (PostgreSQL titles a backend
 * "postgres: user database host state"), counting processes that appear in between from zero.
 */
export class ProcessGroupMeter {
  private readonly needle: string;
  private readonly byName: boolean;
  private readonly start: Map<number, number>;

  /** `byName`: match the process name exactly (`postgres`: the whole server) instead of the command line. */
  constructor(needle: string, byName = false) {
    this.needle = needle;
    this.byName = byName;
    this.start = new Map(pidsMatching(needle, byName).map((pid) => [pid, cpuMs(pid) ?? 0]));
  }

  read(): number {
    let total = 0;
    for (const pid of pidsMatching(this.needle, this.byName)) total += (cpuMs(pid) ?? 0) - (this.start.get(pid) ?? 0);
    return total;
  }
}
