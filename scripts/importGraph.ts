// `npm run lint` (and `node scripts/importGraph.ts [--print]`): builds the import graph of src/
// (tests and generated code aside) twice — between files and between the folders directly under
// src/ — and fails on any cycle in either. Type-only imports count: a type that runs back up a
// layer ties the two rooms together as much as a value does.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import ts from "typescript";

const ROOT = resolve(import.meta.dirname, "..");
const SRC = join(ROOT, "src");
const SKIP = new Set(["generated"]);

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      if (!SKIP.has(name)) out.push(...sourceFiles(path));
    } else if (name.endsWith(".ts") && !name.endsWith(".test.ts") && !name.endsWith(".d.ts")) out.push(path);
  }
  return out;
}

/** The file's relative imports (static, dynamic, type-only and re-exports), as absolute paths of files of src/. */
function importsOf(file: string): string[] {
  const info = ts.preProcessFile(readFileSync(file, "utf8"), true, true);
  const out: string[] = [];
  for (const { fileName } of info.importedFiles) {
    if (!fileName.startsWith(".")) continue;
    const target = resolve(dirname(file), fileName);
    if (target.startsWith(SRC + sep) && !target.includes(`${sep}generated${sep}`)) out.push(target);
  }
  return out;
}

/** The room a file lives in: the folder directly under src/, or the file itself at src/'s top. */
export function folderOf(file: string): string {
  const rel = relative(SRC, file);
  const first = rel.split(sep)[0]!;
  return rel.includes(sep) ? `${first}/` : first;
}

/** Strongly connected components with more than one member (or a self-loop): the cycles. */
export function cycles(graph: Map<string, Set<string>>): string[][] {
  let index = 0;
  const indices = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    indices.set(v, index);
    low.set(v, index);
    index += 1;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!indices.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, indices.get(w)!));
    }
    if (low.get(v) === indices.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || graph.get(v)?.has(v)) found.push(component.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!indices.has(v)) visit(v);
  return found;
}

/** One path around a cycle, for the message: [a, b, …, a]. */
function pathThrough(graph: Map<string, Set<string>>, members: string[]): string[] {
  const inCycle = new Set(members);
  const start = members[0]!;
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of graph.get(v) ?? []) {
      if (!inCycle.has(w)) continue;
      if (w === start) {
        const path = [start];
        for (let x = v; x !== start; x = previous.get(x)!) path.splice(1, 0, x);
        return [...path, start];
      }
      if (!previous.has(w)) {
        previous.set(w, v);
        queue.push(w);
      }
    }
  }
  return members;
}

/** Layers from the bottom: each room sits one floor above the highest room it imports. */
function floors(graph: Map<string, Set<string>>): Map<string, number> {
  const floor = new Map<string, number>();
  const height = (v: string, seen: Set<string>): number => {
    if (floor.has(v)) return floor.get(v)!;
    if (seen.has(v)) return 0;
    seen.add(v);
    const below = [...(graph.get(v) ?? [])].filter((w) => w !== v).map((w) => height(w, seen) + 1);
    const h = Math.max(0, ...below);
    floor.set(v, h);
    return h;
  };
  for (const v of graph.keys()) height(v, new Set());
  return floor;
}

function main(): void {
  const files = sourceFiles(SRC);
  const fileGraph = new Map<string, Set<string>>();
  const folderGraph = new Map<string, Set<string>>();
  const folderEdges = new Map<string, string[]>();
  for (const file of files) {
    const from = relative(ROOT, file);
    fileGraph.set(from, fileGraph.get(from) ?? new Set());
    const fromFolder = folderOf(file);
    if (!folderGraph.has(fromFolder)) folderGraph.set(fromFolder, new Set());
    for (const target of importsOf(file)) {
      const to = relative(ROOT, target);
      fileGraph.get(from)!.add(to);
      const toFolder = folderOf(target);
      if (toFolder !== fromFolder) {
        folderGraph.get(fromFolder)!.add(toFolder);
        const key = `${fromFolder} → ${toFolder}`;
        const edge = `${from} imports ${to}`;
        if (!folderEdges.get(key)?.includes(edge)) folderEdges.set(key, [...(folderEdges.get(key) ?? []), edge]);
      }
    }
  }
  const fileCycles = cycles(fileGraph);
  const folderCycles = cycles(folderGraph);
  if (process.argv.includes("--print")) {
    const floor = floors(folderGraph);
    const byFloor = [...floor.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
    for (const [folder, f] of byFloor)
      process.stdout.write(
        `floor ${f}  ${folder.padEnd(16)} imports ${[...folderGraph.get(folder)!].sort().join(", ") || "nothing"}\n`,
      );
  }
  const problems: string[] = [];
  for (const members of folderCycles) {
    const path = pathThrough(folderGraph, members);
    problems.push(`folders import each other: ${path.join(" → ")}`);
    for (let i = 0; i + 1 < path.length; i += 1) {
      const edge = folderEdges.get(`${path[i]} → ${path[i + 1]}`) ?? [];
      problems.push(`    ${edge.slice(0, 2).join("\n    ")}${edge.length > 2 ? ` (and ${edge.length - 2} more)` : ""}`);
    }
  }
  for (const members of fileCycles)
    problems.push(`files import each other: ${pathThrough(fileGraph, members).join(" → ")}`);
  if (problems.length > 0) {
    process.stderr.write(
      `import graph of src/: ${folderCycles.length} folder cycle(s), ${fileCycles.length} file cycle(s)\n${problems.join("\n")}\n`,
    );
    process.exit(1);
  }
  process.stdout.write(
    `import graph of src/: ${files.length} files in ${folderGraph.size} rooms, no cycle between files or folders\n`,
  );
}

if (import.meta.main ?? process.argv[1] === import.meta.filename) main();
