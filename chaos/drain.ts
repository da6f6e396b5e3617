// The wait after publishing: until the ledger and the quarantine hold everything, Pub/Sub has
// stopped delivering on both subscriptions, and Svix holds everything — or the deadline passes.
import type { RoundRobinProxy } from "./proxy.ts";
import { sleep } from "./system.ts";

export interface DrainOptions {
  /** When publishing ended (epoch ms), and when to give up. */
  startedAt: number;
  timeoutMs: number;
  proxy: RoundRobinProxy;
  /** The worker's /metrics. */
  workerMetricsUrl: string;
  /** When the worker was last killed (epoch ms, 0: never). */
  lastWorkerKillAt: () => number;
  /** What is still wrong; withSvix: Svix listed too (listing an external Svix costs its rate limit). */
  problems: (withSvix: boolean) => Promise<string[]>;
  say: (line: string) => void;
}

/** The worker's count of pulled messages (every result). */
async function pulledCount(metricsUrl: string): Promise<number> {
  const res = await fetch(metricsUrl, { signal: AbortSignal.timeout(2000) });
  let sum = 0;
  for (const m of (await res.text()).matchAll(/^relay_pulled_messages_total(?:\{[^}]*\})? (\d+)/gm))
    sum += Number(m[1]);
  return sum;
}

/**
 * Pushes are quiet after 10 s without one. The pull path is quiet once the worker has taken
 * nothing for 15 s and its last kill is 70 s past: a message leased by a killed worker comes back
 * only when its lease expires. Svix is listed only once everything else is complete and quiet.
 */
export async function drain(options: DrainOptions): Promise<{ timedOut: boolean }> {
  const { proxy, say } = options;
  let pulled = -1;
  let pulledChangedAt = Date.now();
  let lastSay = 0;
  const notYet = (error: Error) => [`not readable yet: ${error.message}`];
  for (;;) {
    const pushQuietMs = Date.now() - proxy.lastRequestAt;
    const nowPulled = await pulledCount(options.workerMetricsUrl).catch(() => -2);
    if (nowPulled !== pulled) {
      pulled = nowPulled;
      pulledChangedAt = Date.now();
    }
    const pullQuietMs = Date.now() - pulledChangedAt;
    const quiet =
      proxy.inFlight === 0 &&
      pushQuietMs > 10_000 &&
      pullQuietMs > 15_000 &&
      Date.now() - options.lastWorkerKillAt() > 70_000;
    let problems = await options.problems(false).catch(notYet);
    if (problems.length === 0 && quiet) {
      problems = await options.problems(true).catch(notYet);
      if (problems.length === 0) return { timedOut: false };
    }
    if (Date.now() - options.startedAt > options.timeoutMs) {
      say(
        `drain: still unsettled after ${options.timeoutMs / 1000} s: ${problems.join("; ") || "Pub/Sub still delivering"}`,
      );
      return { timedOut: true };
    }
    if (Date.now() - lastSay > 5000) {
      lastSay = Date.now();
      const state = problems.length ? problems.join("; ") : "ledger and quarantine complete";
      say(
        `[drain ${((Date.now() - options.startedAt) / 1000).toFixed(0)} s] ${state} · pushes in flight ${proxy.inFlight}, last ${(pushQuietMs / 1000).toFixed(0)} s ago · last pull ${(pullQuietMs / 1000).toFixed(0)} s ago`,
      );
    }
    await sleep(1000);
  }
}
