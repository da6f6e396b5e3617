import { defineConfig } from "vitest/config";
import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * Quick files first: a mutant is killed by its first failing test (Stryker bails), so the test
 * files that failed last (they likely kill the next mutant of the same code too) run first, then
 * the fastest. Vitest's own order runs the slowest first.
 */
class QuickFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const known = (spec: TestSpecification) => this.ctx.cache.getTestSpecificationResult(spec);
    const rank = (spec: TestSpecification): [number, number] => {
      const result = known(spec);
      if (!result) return [1, Number.POSITIVE_INFINITY];
      return [result.failed ? 0 : 1, result.duration];
    };
    return [...files].sort((a, b) => {
      const [fa, da] = rank(a);
      const [fb, db] = rank(b);
      return fa - fb || da - db;
    });
  }
}

/**
 * The test run StrykerJS uses (`npm run mutate`, see stryker.config.mjs): the in-process tests
 * only. Tests that start child processes (a relay as `npm start` starts it, the Pub/Sub worker,
 * Google's Pub/Sub emulator, Chromium, the emulator's CLI) are left out: code run in a child
 * process is invisible to Stryker's coverage, so they cannot kill a mutant, and they are the slow
 * ones. No JSON report here (the full suite's tmp/vitest-report.json is not touched).
 */
export default defineConfig({
  // Vitest's results cache (which files failed last, how long each took) stays in the sandbox.
  cacheDir: ".vitest-mutation",
  test: {
    include: [
      "src/**/*.test.ts",
      "test/core/**/*.test.ts",
      "test/ingest/**/*.test.ts",
      "test/svix/**/*.test.ts",
      "test/auth/**/*.test.ts",
      "test/observability/**/*.test.ts",
      "test/http/**/*.test.ts",
      "test/db/**/*.test.ts",
      "test/resilience/{dispatcher,failures,instances,rateLimit}.test.ts",
      "test/dashboard/{dashboard,gate}.test.ts",
      // These start Google's Pub/Sub emulator (a JVM), but run our code in this process.
      "test/pubsub/provision.test.ts",
      // The pull worker in this process, fed by Google's emulator (pullWorker.test.ts runs it as a process).
      "test/pubsub/pullWorkerInProcess.test.ts",
    ],
    exclude: [
      "**/node_modules/**",
      "test/e2e/**", // the relay started as `npm start` starts it
      "test/pubsub/{push,pullWorker}.test.ts", // push through Google's emulator to a relay process; `npm run worker`
      "test/resilience/crash.test.ts", // kill -9 of a relay process
      "test/dashboard/browser.test.ts", // Chromium
      "test/emulator/**", // the Svix emulator: a dev tool, not mutated
    ],
    // One migrated embedded database for the run; each relay opens a copy (test/helpers/pgliteTemplate.ts).
    globalSetup: ["test/helpers/pgliteTemplate.ts"],
    // Test files share a worker process: the relay's modules are imported once, not once per file.
    isolate: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    reporters: ["default"],
    sequence: { sequencer: QuickFirstSequencer },
  },
});
