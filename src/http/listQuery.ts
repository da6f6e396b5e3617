import type { Request } from "express";
import { AppError, type ErrorDetail } from "../errors.ts";
import { IDENTIFIER_RULE, isStorableIdentifier } from "../core/event.ts";
import { NOTIFICATION_STATUSES, type NotificationFilter, type NotificationStatus } from "../core/ports/ledger.ts";

/** An answer stays under this many bytes of JSON, whatever its rows hold; the rest is on the next page. */
export const PAGE_MAX_BYTES = 1_000_000;
export const PAGE_DEFAULT_ROWS = 50;
export const PAGE_MAX_ROWS = 1000;

/** Opaque to callers: where the previous page ended. */
export function encodeCursor(row: { createdAt: Date; eventId: string }): string {
  return Buffer.from(JSON.stringify([row.createdAt.toISOString(), row.eventId])).toString("base64url");
}

function decodeCursor(value: string): NotificationFilter["after"] {
  try {
    const [at, eventId] = JSON.parse(Buffer.from(value, "base64url").toString("utf8")) as [unknown, unknown];
    const createdAt = new Date(String(at));
    if (typeof eventId === "string" && isStorableIdentifier(eventId) && !Number.isNaN(createdAt.getTime()))
      return { createdAt, eventId };
  } catch {
    // Reported below.
  }
  return undefined;
}

function parseDate(details: ErrorDetail[], name: string, value: unknown): Date | undefined {
  if (value === undefined) return undefined;
  const date = typeof value === "string" && value.length <= 40 ? new Date(value) : new Date(Number.NaN);
  if (Number.isNaN(date.getTime()))
    details.push({ path: name, message: "must be an ISO 8601 date-time, e.g. 2026-11-30T00:00:00Z" });
  return date;
}

const KNOWN = new Set(["status", "project", "type", "since", "until", "limit", "cursor"]);

/** `GET /notifications`'s query: every parameter checked, unknown ones refused rather than ignored. */
export function parseListQuery(query: Request["query"], maxRows = PAGE_MAX_ROWS): NotificationFilter {
  const details: ErrorDetail[] = [];
  for (const key of Object.keys(query))
    if (!KNOWN.has(key)) details.push({ path: key, message: `is not a known parameter (${[...KNOWN].join(", ")})` });
  const { status, project, type, limit, cursor } = query;
  if (status !== undefined && !NOTIFICATION_STATUSES.includes(status as NotificationStatus)) {
    details.push({ path: "status", message: `must be one of ${NOTIFICATION_STATUSES.join(", ")}` });
  }
  for (const [name, value] of [
    ["project", project],
    ["type", type],
  ] as const) {
    if (value !== undefined && (typeof value !== "string" || !isStorableIdentifier(value)))
      details.push({ path: name, message: `must be 1 to 256 characters and ${IDENTIFIER_RULE}` });
  }
  const since = parseDate(details, "since", query.since);
  const until = parseDate(details, "until", query.until);
  const n = limit === undefined ? PAGE_DEFAULT_ROWS : Number(limit);
  if (!Number.isInteger(n) || n < 1 || n > maxRows)
    details.push({ path: "limit", message: `must be an integer from 1 to ${maxRows}` });
  const after = typeof cursor === "string" ? decodeCursor(cursor) : undefined;
  if (cursor !== undefined && !after) details.push({ path: "cursor", message: "is not a cursor this API returned" });
  if (details.length) throw new AppError("invalid_query", "Invalid query parameters", { details });
  return {
    status: status as NotificationStatus | undefined,
    project: project as string | undefined,
    type: type as string | undefined,
    since,
    until,
    after,
    limit: n,
  };
}

/**
 * A page bounded in rows and bytes: rows are taken while the JSON stays under maxBytes; the
 * cursor names the last row taken when more may follow.
 */
export function boundedPage<Row extends { createdAt: Date; eventId: string }, View>(
  rows: Row[],
  limit: number,
  view: (row: Row) => View,
  maxBytes = PAGE_MAX_BYTES,
) {
  return boundedPageBy(rows, limit, view, encodeCursor, maxBytes);
}

/** boundedPage for rows of any order: `cursorOf` names where a page ended. */
export function boundedPageBy<Row, View>(
  rows: Row[],
  limit: number,
  view: (row: Row) => View,
  cursorOf: (row: Row) => string,
  maxBytes = PAGE_MAX_BYTES,
) {
  const data: View[] = [];
  let bytes = 64;
  let last: Row | undefined;
  for (const row of rows.slice(0, limit)) {
    const shown = view(row);
    const size = Buffer.byteLength(JSON.stringify(shown)) + 1;
    if (data.length > 0 && bytes + size > maxBytes) break;
    data.push(shown);
    bytes += size;
    last = row;
  }
  const more = data.length < rows.length;
  return { data, nextCursor: more && last !== undefined ? cursorOf(last) : null };
}
