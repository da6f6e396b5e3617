// Mutation testing: `npm run mutate` (StrykerJS). Not part of `npm test` or CI — it takes long;
// see the README's "Mutation testing" section for when to run it and the latest score.

// The configured files, in parts that can be run one at a time (`MUTATE_SCOPE=core npm run mutate`),
// each with its own reports under reports/mutation/<scope>/; `npm run mutate:score` adds the parts'
// JSON reports up. Without MUTATE_SCOPE, everything at once into reports/mutation/.
const SCOPES = {
  core: [
    "src/notifications/**/*.ts",
    "!src/ingest/strictJson.ts",
    // Line 52 is `scan: for (;;)`: Stryker wraps a mutated loop in an `if`, which leaves the label
    // on the `if` and breaks `continue scan` (a SyntaxError in every test run). The loop's own two
    // mutants (empty body, `for (; false;)`) are left out; everything inside it is mutated.
    "src/ingest/strictJson.ts:1-51",
    "src/ingest/strictJson.ts:53-299",
    "src/db/notificationStore.ts",
    "src/errors.ts",
  ],
  svix: ["src/svix/**/*.ts"],
  pubsub: ["src/pubsub/**/*.ts", "src/config/**/*.ts"],
  http: ["src/http/**/*.ts", "!src/http/openapi.ts"],
};
const NOT_MUTATED = ["!src/**/*.test.ts", "!src/bin/**"];
const name = process.env.MUTATE_SCOPE;
if (name !== undefined && !(name in SCOPES))
  throw new Error(`MUTATE_SCOPE must be one of ${Object.keys(SCOPES).join(", ")}`);
// MUTATE_ONLY=src/a.ts,src/b.ts re-measures a few files after their tests changed, into a report
// of its own (reports/mutation/only-<time>/); `npm run mutate:score` counts the newest report of
// each file, so the other files keep their last measured results.
const only = process.env.MUTATE_ONLY?.split(",").filter(Boolean);
const scope = only
  ? {
      files: [...only, ...NOT_MUTATED],
      reports: `reports/mutation/only-${new Date().toISOString().replace(/[:.]/g, "-")}`,
    }
  : {
      files: [...(name ? SCOPES[name] : Object.values(SCOPES).flat()), ...NOT_MUTATED],
      reports: name ? `reports/mutation/${name}` : "reports/mutation",
    };
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  packageManager: "npm",
  testRunner: "vitest",
  vitest: {
    configFile: "vitest.mutation.config.ts",
    pool: "forks", // Stryker's default would be threads
    // Not `related`: vitest's related-file lookup missed most tests that reach a module through
    // the relay's container (the http part's dry run ran 199 of the in-process tests). Each
    // mutant still runs only the tests that cover it (coverageAnalysis: perTest).
    related: false,
  },
  coverageAnalysis: "perTest",
  mutate: scope.files,
  checkers: ["typescript"],
  // The checker type-checks the relay's sources only (not the tests): it was the bottleneck.
  tsconfigFile: "tsconfig.mutation.json",
  // 2 cores: two type-checker processes and one test runner while mutants are being checked, three
  // test runners once checking is done (a test runner spends much of its time waiting on timers).
  concurrency: 3,
  // Mutant timeout = timeoutFactor × the covering tests' time + timeoutMS: the resilience tests
  // wait on real timers (cool-downs, Retry-After windows) for seconds.
  timeoutMS: 20_000,
  timeoutFactor: 2,
  dryRunTimeoutMinutes: 30,
  // Mutants only module-level code runs (constants, the config schema, regular expressions) would
  // need every test with a fresh module load each; they are reported as Ignored instead.
  ignoreStatic: true,
  // `npm run mutate -- --incremental` re-tests only what changed since this file was written.
  incrementalFile: `${scope.reports}/stryker-incremental.json`,
  ignorePatterns: ["data", "tmp", "coverage", "reports", "bench/results", ".env"],
  tempDirName: ".stryker-tmp",
  cleanTempDir: true,
  reporters: ["html", "json", "clear-text", "progress"],
  htmlReporter: { fileName: `${scope.reports}/mutation.html` },
  jsonReporter: { fileName: `${scope.reports}/mutation.json` },
};
