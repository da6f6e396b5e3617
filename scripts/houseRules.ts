// `npm run lint` (after Biome and the import graph): the layout's rules that no linter knows.
//  1. One clock: no Date.now() or argument-less new Date() in the core and its adapters, outside
//     src/core/ports/clock.ts (the composition root hands every part the same Clock).
//  2. A test beside its code in src/ touches no database, network or test/helpers: those tests
//     live under test/, by subject.
//  3. Every npm script that runs a file of src/ runs one from src/bin/ (entry points in one place).
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "..");
/** Rooms that read the time only through the Clock port. */
const CLOCKED = ["core", "svix", "dashboard", "db", "pubsub", "ingest", "http", "auth"];
const CLOCK_FILE = "src/core/ports/clock.ts";
/** What a unit test in src/ may not import: a database, a server, the emulator, the test helpers. */
const NOT_IN_UNIT_TESTS = [
  /^(\.\.\/)+test\//,
  /(^|\/)db\//,
  /(^|\/)emulator\//,
  /(^|\/)wiring\//,
  /^supertest$/,
  /^pg$/,
  /^@electric-sql\/pglite$/,
  /^@google-cloud\/pubsub$/,
  /^(node:)?(http|https|net|child_process)$/,
  /^playwright-core$/,
];

function walk(dir: string, keep: (path: string) => boolean): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      if (name !== "generated" && name !== "node_modules") out.push(...walk(path, keep));
    } else if (keep(path)) out.push(path);
  }
  return out;
}

/** The source without comments and string contents, so a rule does not fire on prose. */
function codeOnly(text: string): string {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, (m) => m.replace(/[^\n]/g, " "))
    .replace(/(^|[^:\\])\/\/.*$/gm, "$1")
    .replace(/"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`(?:[^`\\]|\\.)*`/g, (m) => m.replace(/[^\n]/g, " "));
}

function lineOf(text: string, index: number): number {
  return text.slice(0, index).split("\n").length;
}

export function clockProblems(): string[] {
  const problems: string[] = [];
  for (const room of CLOCKED) {
    for (const file of walk(join(ROOT, "src", room), (p) => p.endsWith(".ts") && !p.endsWith(".test.ts"))) {
      const rel = relative(ROOT, file);
      if (rel === CLOCK_FILE) continue;
      const code = codeOnly(readFileSync(file, "utf8"));
      for (const match of code.matchAll(/\bDate\.now\b|\bnew Date\s*\(\s*\)/g)) {
        problems.push(
          `${rel}:${lineOf(code, match.index)}: reads the system time (${match[0].trim()}…); take the Clock instead`,
        );
      }
    }
  }
  return problems;
}

export function unitTestProblems(): string[] {
  const problems: string[] = [];
  for (const file of walk(join(ROOT, "src"), (p) => p.endsWith(".test.ts"))) {
    const rel = relative(ROOT, file);
    const text = readFileSync(file, "utf8");
    for (const match of text.matchAll(/^\s*import\s[^;]*?from\s+"([^"]+)"/gm)) {
      const spec = match[1]!;
      if (NOT_IN_UNIT_TESTS.some((rule) => rule.test(spec))) {
        problems.push(`${rel}: imports ${spec}; a test that needs it belongs under test/`);
      }
    }
    if (/\.listen\(/.test(codeOnly(text)))
      problems.push(`${rel}: listens on a port; a test that needs the network belongs under test/`);
  }
  return problems;
}

export function scriptProblems(): string[] {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> };
  const problems: string[] = [];
  for (const [name, command] of Object.entries(pkg.scripts)) {
    for (const match of command.matchAll(/\bsrc\/[^\s"']+\.ts\b/g)) {
      if (!match[0].startsWith("src/bin/"))
        problems.push(`npm run ${name} runs ${match[0]}; entry points live in src/bin/`);
    }
  }
  return problems;
}

function main(): void {
  const problems = [...clockProblems(), ...unitTestProblems(), ...scriptProblems()];
  if (problems.length > 0) {
    process.stderr.write(`house rules: ${problems.length} problem(s)\n  ${problems.join("\n  ")}\n`);
    process.exit(1);
  }
  process.stdout.write("house rules: one clock, unit tests without I/O beside their code, entry points in src/bin\n");
}

if (import.meta.main) main();
