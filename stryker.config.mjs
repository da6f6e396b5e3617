// Mutation testing: `npm run mutate` (StrykerJS). Not part of `npm test` or CI — it takes long;
// see the README's "Mutation testing" section for when to run it and the latest score.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  packageManager: "npm",
  testRunner: "vitest",
  vitest: {
    configFile: "vitest.mutation.config.ts",
    pool: "forks", // Stryker's default would be threads
    related: true,
  },
  coverageAnalysis: "perTest",
  mutate: [
    "src/notifications/**/*.ts",
    "src/svix/**/*.ts",
    "src/db/notificationStore.ts",
    "src/http/**/*.ts",
    "src/pubsub/**/*.ts",
    "src/errors.ts",
    "src/config.ts",
    "src/configRules.ts",
    "!src/**/*.test.ts",
    "!src/**/*Cli.ts",
    "!src/pubsub/workerMain.ts",
    "!src/http/openapi.ts",
    // Line 52 is `scan: for (;;)`: Stryker wraps a mutated loop in an `if`, which leaves the label
    // on the `if` and breaks `continue scan` (a SyntaxError in every test run). The loop's own two
    // mutants (empty body, `for (; false;)`) are left out; everything inside it is mutated.
    "!src/notifications/strictJson.ts",
    "src/notifications/strictJson.ts:1-51",
    "src/notifications/strictJson.ts:53-299",
  ],
  checkers: ["typescript"],
  tsconfigFile: "tsconfig.json",
  // 2 cores; each test runner starts relays (PGlite, a Svix emulator) of its own.
  concurrency: 2,
  // Mutant timeout = timeoutFactor × the covering tests' time + timeoutMS: the resilience tests
  // wait on real timers (cool-downs, Retry-After windows) for seconds.
  timeoutMS: 20_000,
  timeoutFactor: 2,
  dryRunTimeoutMinutes: 30,
  // Mutants only module-level code runs (constants, the config schema, regular expressions) would
  // need every test with a fresh module load each; they are reported as Ignored instead.
  ignoreStatic: true,
  // `npm run mutate -- --incremental` re-tests only what changed since this file was written.
  incrementalFile: "reports/stryker-incremental.json",
  ignorePatterns: ["data", "tmp", "coverage", "reports", "bench/results", ".env"],
  tempDirName: ".stryker-tmp",
  cleanTempDir: true,
  reporters: ["html", "json", "clear-text", "progress"],
  htmlReporter: { fileName: "reports/mutation/mutation.html" },
  jsonReporter: { fileName: "reports/mutation/mutation.json" },
};
