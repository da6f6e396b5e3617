// Reading the relay's --cpu-prof output: where its CPU went, by function (self time, i.e. the
// samples taken while that function itself was on top of the stack) and by module.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: CpuProfileNode[];
  samples?: number[];
  /** µs between consecutive samples, the first one counted from the profile's start. */
  timeDeltas?: number[];
}

export interface ProfileEntry {
  name: string;
  where: string;
  samples: number;
  /** Of all samples. */
  share: number;
  /** Of the samples in which the relay was doing something (all but "(idle)"). */
  busyShare: number;
  /** For native and Node-internal functions: the library or relay code that called them most. */
  calledFrom?: string;
}

export interface ProfileSummary {
  file: string;
  /** Spans (ms since the profile started) that were summarized; the whole profile when absent. */
  windows?: Array<[number, number]>;
  totalSamples: number;
  idleSamples: number;
  topFunctions: ProfileEntry[];
  topModules: ProfileEntry[];
  /**
   * Self time by module, with native code and Node's internals counted for the library or relay
   * module that called them (writev under pg is pg's): where the CPU goes, by what asked for it.
   */
  topCallerModules: ProfileEntry[];
}

/** The .cpuprofile Node wrote for `pid` in `dir` (its name carries the pid), if any. */
export function findProfile(dir: string, pid: number): string | undefined {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return undefined;
  }
  const mine = names.filter((n) => n.endsWith(".cpuprofile") && n.split(".").includes(String(pid)));
  const newest = mine.map((n) => join(dir, n)).sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
  return newest;
}

/** Where a script is, short: the package for node_modules, the path for the relay's own files. */
function shortUrl(url: string, root: string): string {
  if (!url) return "(native)";
  const path = url.startsWith("file://") ? new URL(url).pathname : url;
  const nm = path.lastIndexOf("/node_modules/");
  if (nm >= 0) {
    const parts = path.slice(nm + 14).split("/");
    const pkg = parts[0]!.startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0]!;
    return `${pkg}:${parts.slice(parts[0]!.startsWith("@") ? 2 : 1).join("/")}`;
  }
  return path.startsWith("/") ? relative(root, path) : path;
}

function moduleOf(where: string): string {
  if (where.startsWith("node:")) return "node (built-in)";
  if (where === "(native)") return where;
  const colon = where.indexOf(":");
  return colon > 0 ? where.slice(0, colon) : where.split("/").slice(0, 2).join("/");
}

/** Native code and Node's internals say little by themselves ("writev"): who called them does. */
const isOpaque = (url: string) => url === "" || url.startsWith("node:");

/**
 * Self time by function and by module. `windows` (ms since the profile started) keeps only the
 * samples taken then, e.g. while the relay was under load, leaving out start-up and idle phases.
 */
export function summarizeProfile(
  file: string,
  root: string,
  windows?: Array<[number, number]>,
  top = 15,
): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  // Self samples per node: the sample list when present (exact), else the nodes' hit counts.
  const selfById = new Map<number, number>();
  const deltas = profile.timeDeltas ?? [];
  const windowed = windows !== undefined && windows.length > 0 && deltas.length === profile.samples?.length;
  if (profile.samples?.length) {
    let atUs = 0;
    profile.samples.forEach((id, i) => {
      atUs += deltas[i] ?? 0;
      const atMs = atUs / 1000;
      if (windowed && !windows.some(([from, to]) => atMs >= from && atMs <= to)) return;
      selfById.set(id, (selfById.get(id) ?? 0) + 1);
    });
  } else for (const n of profile.nodes) selfById.set(n.id, n.hitCount ?? 0);
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parentOf = new Map<number, number>();
  for (const n of profile.nodes) for (const child of n.children ?? []) parentOf.set(child, n.id);
  const callerFrameOf = (node: CpuProfileNode): { name: string; where: string } | undefined => {
    for (let id = parentOf.get(node.id); id !== undefined; id = parentOf.get(id)) {
      const frame = byId.get(id)!.callFrame;
      if (!isOpaque(frame.url)) return { name: frame.functionName || "(anonymous)", where: shortUrl(frame.url, root) };
    }
    return undefined;
  };
  const callerOf = (node: CpuProfileNode): string | undefined => {
    const frame = callerFrameOf(node);
    return frame && `${frame.name} ${frame.where}`;
  };
  const byCallerModule = new Map<string, number>();
  const byFunction = new Map<string, { name: string; where: string; samples: number; callers: Map<string, number> }>();
  const byModule = new Map<string, number>();
  let total = 0;
  for (const node of profile.nodes) {
    const samples = selfById.get(node.id) ?? 0;
    if (samples === 0) continue;
    total += samples;
    const name = node.callFrame.functionName || "(anonymous)";
    const where = shortUrl(node.callFrame.url, root);
    const key = `${name}\u0000${where}`;
    const entry = byFunction.get(key) ?? { name, where, samples: 0, callers: new Map<string, number>() };
    entry.samples += samples;
    const caller = isOpaque(node.callFrame.url) && !name.startsWith("(") ? callerOf(node) : undefined;
    if (caller) entry.callers.set(caller, (entry.callers.get(caller) ?? 0) + samples);
    byFunction.set(key, entry);
    const mod = name.startsWith("(") && !node.callFrame.url ? name : moduleOf(where);
    byModule.set(mod, (byModule.get(mod) ?? 0) + samples);
    const callerFrame = isOpaque(node.callFrame.url) && !name.startsWith("(") ? callerFrameOf(node) : undefined;
    const callerMod = callerFrame ? moduleOf(callerFrame.where) : mod;
    byCallerModule.set(callerMod, (byCallerModule.get(callerMod) ?? 0) + samples);
  }
  const idle = byModule.get("(idle)") ?? 0;
  const rank = (
    entries: Array<{ name: string; where: string; samples: number; callers?: Map<string, number> }>,
  ): ProfileEntry[] =>
    entries
      .sort((a, b) => b.samples - a.samples)
      .slice(0, top)
      .map(({ callers, ...e }) => {
        const [calledFrom] = [...(callers ?? [])].sort((a, b) => b[1] - a[1])[0] ?? [];
        return {
          ...e,
          share: e.samples / total,
          busyShare: e.name === "(idle)" ? Number.NaN : e.samples / (total - idle),
          ...(calledFrom ? { calledFrom } : {}),
        };
      });
  return {
    file,
    windows: windowed ? windows : undefined,
    totalSamples: total,
    idleSamples: idle,
    topFunctions: rank([...byFunction.values()]),
    topModules: rank([...byModule].map(([name, samples]) => ({ name, where: "", samples }))),
    topCallerModules: rank([...byCallerModule].map(([name, samples]) => ({ name, where: "", samples }))),
  };
}

/**
 * `mainThreadMsPerEvent`: the relay's main-thread CPU per event over the profiled phases (from
 * /proc); each function's share of the busy samples times it is what that function costs per event.
 */
export function formatProfile(summary: ProfileSummary, mainThreadMsPerEvent?: number): string {
  const idle = ((summary.idleSamples / summary.totalSamples) * 100).toFixed(1);
  const lines = [
    `relay CPU profile: ${summary.file}`,
    `  ${summary.totalSamples} samples, ${idle} % idle, ${summary.windows ? `taken while the relay was under load (${summary.windows.length} phase(s))` : "the whole process life, start-up included"}; main thread only`,
    `top functions by self time   % of all samples, (% of busy samples)${mainThreadMsPerEvent === undefined ? "" : `, ms per event (of the main thread's ${mainThreadMsPerEvent.toFixed(3)} ms/event)`}`,
  ];
  const perEvent = (e: ProfileEntry) =>
    mainThreadMsPerEvent === undefined || Number.isNaN(e.busyShare)
      ? ""
      : `  ${(e.busyShare * mainThreadMsPerEvent).toFixed(3)} ms/ev`;
  const share = (e: ProfileEntry) =>
    `${(e.share * 100).toFixed(1).padStart(5)} % ${Number.isNaN(e.busyShare) ? "        " : `(${(e.busyShare * 100).toFixed(1).padStart(4)} %)`}${perEvent(e)}`;
  for (const e of summary.topFunctions)
    lines.push(`  ${share(e)}  ${e.name}  ${e.where}${e.calledFrom ? `  ← mostly ${e.calledFrom}` : ""}`);
  lines.push("by module (self time):");
  for (const e of summary.topModules.slice(0, 10)) lines.push(`  ${share(e)}  ${e.name}`);
  lines.push("by module, native code and Node's internals counted for the module that called them:");
  for (const e of summary.topCallerModules) lines.push(`  ${share(e)}  ${e.name}`);
  return `${lines.join("\n")}\n`;
}
