// The run's report: a progress line, the summary table, and the JSON of --json.
import type { CheckResult } from "./checker.ts";
import type { FaultCounts } from "./faultRunner.ts";
import type { PublisherStats } from "./publisher.ts";

export interface ChaosReport {
  seed: number;
  seconds: number;
  svix: string;
  /** Messages published: valid, repeated and poison. */
  published: number;
  unique: number;
  repeats: number;
  poison: number;
  events: string[];
  inSvix: number;
  lost: string[];
  duplicated: Array<{ eventId: string; count: number }>;
  foreign: Array<{ appUid: string | null; eventId: string | null }>;
  quarantined: number;
  unquarantined: number;
  notDelivered: Array<{ eventId: string; status: string }>;
  unacked: number;
  deadLettered: number;
  faults: FaultCounts;
  drainSeconds: number;
  drainTimedOut: boolean;
  wallSeconds: number;
  pushAnswers: Record<string, number>;
  /** Published messages that left the push subscription without a relay's 2xx (nor leftover, nor dead letter). */
  pushNeverAcknowledged: number;
  problems: string[];
  timeline: string[];
  ok: boolean;
}

export function progressLine(
  elapsedSeconds: number,
  stats: PublisherStats,
  inSvix: number | undefined,
  delivered: number | undefined,
  faults: FaultCounts,
): string {
  const f = faults;
  return (
    `[${elapsedSeconds.toFixed(0).padStart(4)} s] published ${stats.messages} (${stats.unique} unique, ` +
    `${stats.poison} poison) · in Svix ${inSvix ?? "?"} · ledger delivered ${delivered ?? "?"} · faults: ` +
    `relay×${f.instanceKilled} worker×${f.workerKilled} db×${f.databaseInterrupted} 5xx×${f.svix5xx} ` +
    `429×${f.svix429} hang×${f.svixHang} latency×${f.svixLatency}` +
    (f.unexpectedExits ? ` · UNEXPECTED EXITS ×${f.unexpectedExits}` : "")
  );
}

export function buildReport(
  base: Omit<
    ChaosReport,
    "inSvix" | "lost" | "duplicated" | "foreign" | "unquarantined" | "notDelivered" | "ok" | "problems" | "unacked"
  >,
  result: CheckResult,
): ChaosReport {
  return {
    ...base,
    inSvix: result.inSvix,
    lost: result.lost,
    duplicated: result.duplicated,
    foreign: result.foreign,
    unquarantined: result.unquarantined.length,
    notDelivered: result.notDelivered,
    unacked: result.unacked,
    problems: result.problems,
    ok: result.ok,
  };
}

export function summaryTable(report: ChaosReport): string {
  const f = report.faults;
  const rows: Array<[string, string | number]> = [
    ["seed", report.seed],
    ["seconds", report.seconds],
    ["svix", report.svix],
    ["published (messages)", report.published],
    ["unique valid events", report.unique],
    ["published again (same id, same body)", report.repeats],
    ["poison messages", report.poison],
    ["messages in Svix", report.inSvix],
    ["lost", report.lost.length],
    ["duplicated", report.duplicated.length],
    ["in Svix but not published", report.foreign.length],
    ["quarantined (poison found)", `${report.quarantined} (${report.unquarantined} missing)`],
    ["not delivered per the ledger", report.notDelivered.length],
    ["unacknowledged after the drain", report.unacked],
    ["dead-lettered", report.deadLettered],
    ["relay kills / worker kills", `${f.instanceKilled} / ${f.workerKilled}`],
    ["database interruptions (stop / pause)", `${f.databaseInterrupted} (${f.databaseStopped} / ${f.databasePaused})`],
    ["svix 5xx / 429 / hang / latency", `${f.svix5xx} / ${f.svix429} / ${f.svixHang} / ${f.svixLatency}`],
    ["processes that died on their own", f.unexpectedExits],
    ["drain", `${report.drainSeconds.toFixed(1)} s${report.drainTimedOut ? " (timed out)" : ""}`],
    ["wall time", `${report.wallSeconds.toFixed(1)} s`],
    ["push answers (via the proxy)", JSON.stringify(report.pushAnswers)],
    ["pushed messages never acknowledged", report.pushNeverAcknowledged],
    ["verdict", report.ok ? "PASS" : "FAIL"],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`).join("\n");
}
