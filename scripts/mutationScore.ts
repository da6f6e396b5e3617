// `npm run mutate:score`: the mutation score per file and in all, from the JSON reports StrykerJS
// wrote under reports/mutation/ (one whole run, or its parts run with MUTATE_SCOPE). For each file
// the newest report that holds it counts. Score = (killed + timed out) ÷ (killed + timed out +
// survived + no coverage), as Stryker counts it; ignored and compile-error mutants are left out.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

interface Mutant {
  id: string;
  mutatorName: string;
  replacement?: string;
  status: string;
  location: { start: { line: number; column: number } };
}
interface Report {
  files: Record<string, { mutants: Mutant[] }>;
}

const ROOT = "reports/mutation";
const DETECTED = new Set(["Killed", "Timeout"]);
const UNDETECTED = new Set(["Survived", "NoCoverage"]);

if (process.argv.includes("--help")) {
  console.log(
    "usage: npm run mutate:score [-- --survivors]\n  Adds up reports/mutation/**/mutation.json; --survivors lists every surviving mutant.",
  );
  process.exit(0);
}

function reports(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return reports(path);
    return entry === "mutation.json" ? [path] : [];
  });
}

const found = reports(ROOT).sort((a, b) => statSync(a).mtimeMs - statSync(b).mtimeMs);
if (found.length === 0) {
  console.error(`no report under ${ROOT}: run npm run mutate first`);
  process.exit(1);
}
const files = new Map<string, Mutant[]>();
for (const path of found) {
  const report = JSON.parse(readFileSync(path, "utf8")) as Report;
  for (const [file, { mutants }] of Object.entries(report.files)) files.set(file, mutants);
}
// A file deleted since it was measured no longer counts.
const gone = [...files.keys()].filter((file) => !existsSync(file));
for (const file of gone) files.delete(file);

const rows: Array<[string, number, number, number, number]> = [];
let detected = 0;
let undetected = 0;
let ignored = 0;
for (const [file, mutants] of [...files].sort(([a], [b]) => a.localeCompare(b))) {
  const d = mutants.filter((m) => DETECTED.has(m.status)).length;
  const u = mutants.filter((m) => UNDETECTED.has(m.status)).length;
  const noCoverage = mutants.filter((m) => m.status === "NoCoverage").length;
  detected += d;
  undetected += u;
  ignored += mutants.length - d - u;
  rows.push([file, d, u, noCoverage, d + u === 0 ? 100 : (100 * d) / (d + u)]);
}
const width = Math.max(...rows.map(([f]) => f.length));
console.log(`${"file".padEnd(width)}  score  killed  survived  (no coverage)`);
for (const [file, d, u, nc, score] of rows) {
  console.log(
    `${file.padEnd(width)}  ${score.toFixed(1).padStart(5)}  ${String(d).padStart(6)}  ${String(u).padStart(8)}  ${String(nc).padStart(13)}`,
  );
}
console.log(`\nreports: ${found.join(", ")}`);
if (gone.length > 0) console.log(`not counted (deleted since measured): ${gone.join(", ")}`);
console.log(
  `all files: ${((100 * detected) / (detected + undetected)).toFixed(2)} % (${detected} killed or timed out, ${undetected} survived or not covered, ${ignored} ignored or not valid)`,
);

if (process.argv.includes("--survivors")) {
  console.log("");
  for (const [file, mutants] of files) {
    for (const m of mutants.filter((x) => UNDETECTED.has(x.status))) {
      console.log(
        `${file}:${m.location.start.line}:${m.location.start.column} ${m.status} ${m.mutatorName} ${JSON.stringify(m.replacement ?? "")}`,
      );
    }
  }
}
