import { AppError, isAppError, type ErrorDetail } from "../errors.ts";
import { isStorableIdentifier } from "./event.ts";
import type { NotificationService } from "./notificationService.ts";
import { type NotificationLedger, type NotificationStatus, REPLAYABLE_STATUSES } from "./ports/ledger.ts";

export interface ReplayFilter {
  status: Extract<NotificationStatus, "failed" | "rejected" | "queued">;
  project?: string;
  type?: string;
  since?: Date;
  until?: Date;
  /** 1..1000 notifications per call. */
  limit: number;
}

export interface ReplaySummary {
  matched: number;
  delivered: number;
  /** Replayed, and Svix still does not take it: queued again, or rejected again. */
  stillFailing: number;
  /** Delivered meanwhile (by the dispatcher, say): nothing sent. */
  skippedDelivered: number;
  /** Being delivered right now by someone else: nothing sent. */
  skippedInFlight: number;
  /** Payload purged or erased: cannot be sent. */
  skippedPurged: number;
  results: Array<{ eventId: string; status: string }>;
}

export const REPLAY_MAX = 1000;

/** A replay filter from a request body: every problem named. */
export function parseReplayFilter(body: unknown): ReplayFilter {
  const b = (body && typeof body === "object" && !Array.isArray(body) ? body : {}) as Record<string, unknown>;
  const details: ErrorDetail[] = [];
  const known = new Set(["status", "project", "type", "since", "until", "limit"]);
  for (const key of Object.keys(b))
    if (!known.has(key)) details.push({ path: `/${key}`, message: "is not a known field" });
  if (!REPLAYABLE_STATUSES.includes(b.status as never))
    details.push({ path: "/status", message: `must be one of ${REPLAYABLE_STATUSES.join(", ")}` });
  for (const key of ["project", "type"] as const) {
    if (b[key] !== undefined && !(typeof b[key] === "string" && isStorableIdentifier(b[key] as string)))
      details.push({ path: `/${key}`, message: "must be 1 to 256 characters" });
  }
  const date = (key: "since" | "until") => {
    if (b[key] === undefined) return undefined;
    const d = typeof b[key] === "string" ? new Date(b[key] as string) : new Date(Number.NaN);
    if (Number.isNaN(d.getTime())) details.push({ path: `/${key}`, message: "must be an ISO 8601 date-time" });
    return d;
  };
  const since = date("since");
  const until = date("until");
  const limit = b.limit === undefined ? 100 : b.limit;
  if (!(Number.isInteger(limit) && (limit as number) >= 1 && (limit as number) <= REPLAY_MAX))
    details.push({ path: "/limit", message: `must be an integer from 1 to ${REPLAY_MAX}` });
  if (details.length) throw new AppError("invalid_request", "Invalid replay filter", { details });
  return {
    status: b.status as ReplayFilter["status"],
    project: b.project as string | undefined,
    type: b.type as string | undefined,
    since,
    until,
    limit: limit as number,
  };
}

/**
 * Operator replay of many notifications: each through the same replay() as one at a time — same
 * event id, same idempotency key — so a replay can never duplicate a webhook. Oldest first.
 */
export async function replayMany(
  service: NotificationService,
  ledger: NotificationLedger,
  filter: ReplayFilter,
): Promise<ReplaySummary> {
  const ids: string[] = [];
  let after: { createdAt: Date; eventId: string } | undefined;
  while (ids.length < filter.limit) {
    const page = await ledger.list({
      status: filter.status,
      project: filter.project,
      type: filter.type,
      since: filter.since,
      until: filter.until,
      after,
      limit: Math.min(500, filter.limit - ids.length),
    });
    ids.push(...page.map((n) => n.eventId));
    if (page.length === 0) break;
    const last = page.at(-1)!;
    after = { createdAt: last.createdAt, eventId: last.eventId };
  }
  ids.reverse();
  const summary: ReplaySummary = {
    matched: ids.length,
    delivered: 0,
    stillFailing: 0,
    skippedDelivered: 0,
    skippedInFlight: 0,
    skippedPurged: 0,
    results: [],
  };
  for (const eventId of ids) {
    try {
      const outcome = await service.replay(eventId);
      if (outcome.status === "delivered") summary.delivered += 1;
      else summary.stillFailing += 1;
      summary.results.push({ eventId, status: outcome.status });
    } catch (error) {
      if (!isAppError(error)) throw error;
      if (error.code === "already_delivered") summary.skippedDelivered += 1;
      else if (error.code === "event_in_flight") summary.skippedInFlight += 1;
      else if (error.code === "payload_purged") summary.skippedPurged += 1;
      else if (error.code === "not_found") continue;
      else throw error;
      summary.results.push({ eventId, status: error.code });
    }
  }
  return summary;
}
