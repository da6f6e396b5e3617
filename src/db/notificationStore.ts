import { Prisma } from "../generated/prisma/client.ts";
import type { Notification, PrismaClient } from "../generated/prisma/client.ts";
import type { PlatformEvent } from "../core/event.ts";
import type {
  AttemptOutcome,
  AttemptTrigger,
  AttemptView,
  Claim,
  Completion,
  NewNotification,
  NotificationFilter,
  NotificationLedger,
  NotificationRecord,
  NotificationStatus,
  NotificationSummary,
  ProjectStatusCount,
  QueueDepth,
} from "../core/ports/ledger.ts";
import { REPLAYABLE_STATUSES } from "../core/ports/ledger.ts";
import type { TransportKind } from "../core/transport.ts";
import type { SqlRunner } from "./database.ts";
import { HotPathWriter } from "./hotPath.ts";
import { db } from "./ledgerErrors.ts";

type SummaryRow = Omit<Notification, "payload">;

/**
 * The dispatcher's claim: the oldest due notifications (queued and due, or claimed by an owner
 * whose claim expired), taken by one conditional update. SKIP LOCKED: instances claiming at the
 * same moment take different rows instead of waiting on each other; the lock re-checks the
 * condition on the row's latest version. Its condition implies the predicate of
 * notifications_backlog_created_at_idx, so PostgreSQL walks only the backlog, in order, and stops
 * at the limit (exported for the test that reads its plan).
 */
export function claimDueSql(now: Date, limit: number, claim: Claim, recoveredAt?: Date): Prisma.Sql {
  return Prisma.sql`
    UPDATE notifications SET status = 'received', claim_token = ${claim.token}, claim_expires_at = ${claim.expiresAt}, updated_at = ${now}
    WHERE event_id IN (
      SELECT event_id FROM notifications
      WHERE ((status = 'queued' AND (next_attempt_at IS NULL OR next_attempt_at <= ${now} OR updated_at < ${recoveredAt ?? null}::timestamptz))
         OR (status = 'received' AND claim_expires_at <= ${now}))
        AND payload IS NOT NULL
      ORDER BY created_at, event_id
      LIMIT ${limit}
      FOR UPDATE SKIP LOCKED)
    RETURNING *`;
}

export function toSummary(row: SummaryRow): NotificationSummary {
  return {
    eventId: row.eventId,
    project: row.project,
    type: row.type,
    status: row.status as NotificationStatus,
    attemptCount: row.attempts,
    failures: row.failures,
    svixAppUid: row.svixAppUid,
    svixMessageId: row.svixMessageId,
    lastErrorCode: row.lastErrorCode,
    lastError: row.lastError,
    payloadDigest: row.payloadDigest,
    payloadPurgedAt: row.payloadPurgedAt,
    transport: {
      kind: row.transport as TransportKind,
      pubsubMessageId: row.pubsubMessageId ?? undefined,
      subscription: row.subscription ?? undefined,
      deliveryAttempt: row.deliveryAttempt ?? undefined,
      publishTime: row.publishTime?.toISOString(),
    },
    claimExpiresAt: row.claimExpiresAt,
    nextAttemptAt: row.nextAttemptAt,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    deliveredAt: row.deliveredAt,
    traceContext: row.traceContext,
  };
}

function toRecord(row: Notification): NotificationRecord {
  return { ...toSummary(row), payload: row.payload === null ? null : (JSON.parse(row.payload) as PlatformEvent) };
}

/** A raw `notifications` row (snake_case, from $queryRaw) as the Prisma model. */
function fromRaw(r: Record<string, unknown>): Notification {
  return {
    eventId: r.event_id,
    project: r.project,
    type: r.type,
    status: r.status,
    attempts: r.attempts,
    failures: r.failures,
    svixAppUid: r.svix_app_uid,
    svixMessageId: r.svix_message_id,
    lastErrorCode: r.last_error_code,
    lastError: r.last_error,
    payload: r.payload,
    payloadDigest: r.payload_digest,
    payloadPurgedAt: r.payload_purged_at,
    transport: r.transport,
    pubsubMessageId: r.pubsub_message_id,
    subscription: r.subscription,
    deliveryAttempt: r.delivery_attempt,
    publishTime: r.publish_time,
    claimToken: r.claim_token,
    claimExpiresAt: r.claim_expires_at,
    nextAttemptAt: r.next_attempt_at,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    deliveredAt: r.delivered_at,
    traceContext: r.trace_context,
  } as Notification;
}

const OMIT_PAYLOAD = { payload: true } as const;

/**
 * The queue's metrics in one statement, each part on an index that leads with status, on
 * PostgreSQL and PGlite alike (test/db/queueDepth.test.ts reads the plans): queued rows from
 * (status, created_at) alone, its first entry being the oldest; stuck ones are among the few
 * received rows (deliveries in flight), filtered by their claim. Times come back as epoch ms,
 * read the same way by both drivers.
 */
export const QUEUE_DEPTH_SQL = `
WITH queued AS (
  SELECT count(*)::int AS n, (extract(epoch FROM min(created_at)) * 1000)::float8 AS oldest
  FROM notifications WHERE status = 'queued'
), stuck AS (
  SELECT count(*)::int AS n, (extract(epoch FROM min(created_at)) * 1000)::float8 AS oldest
  FROM notifications WHERE status = 'received' AND (claim_expires_at IS NULL OR claim_expires_at <= $1::timestamptz)
)
SELECT queued.n AS queued, queued.oldest AS oldest_queued, stuck.n AS stuck, stuck.oldest AS oldest_stuck
FROM queued, stuck`;

/**
 * The ledger: one implementation for PostgreSQL and the embedded PGlite. Prisma for everything
 * but the fast path's two writes, which are plain SQL batched across concurrent events
 * (src/db/hotPath.ts): Prisma's per-call cost was most of the relay's CPU per event.
 */
export class NotificationStore implements NotificationLedger {
  private readonly prisma: PrismaClient;
  private readonly hot: HotPathWriter;
  private readonly sql: SqlRunner;

  constructor(options: { prisma: PrismaClient; sql: SqlRunner }) {
    this.prisma = options.prisma;
    this.sql = options.sql;
    this.hot = new HotPathWriter(options.sql);
  }

  insert(entry: NewNotification): Promise<NotificationSummary | null> {
    return db("insert", async () => {
      // ON CONFLICT DO NOTHING: the unique event id decides who owns the event, without an
      // exception; concurrent inserts share one statement (group commit).
      if (await this.hot.insert(entry)) return null;
      const existing = await this.prisma.notification.findUnique({
        where: { eventId: entry.event.id },
        omit: OMIT_PAYLOAD,
      });
      // Gone between the two statements (retention): as good as inserted by someone else and settled.
      return existing ? toSummary(existing) : null;
    });
  }

  summary(eventId: string): Promise<NotificationSummary | null> {
    return db("summary", async () => {
      const row = await this.prisma.notification.findUnique({ where: { eventId }, omit: OMIT_PAYLOAD });
      return row ? toSummary(row) : null;
    });
  }

  get(eventId: string): Promise<NotificationRecord | null> {
    return db("get", async () => {
      const row = await this.prisma.notification.findUnique({ where: { eventId } });
      return row ? toRecord(row) : null;
    });
  }

  complete(eventId: string, claimToken: string, completion: Completion): Promise<void> {
    return db("complete", () => this.hot.complete({ eventId, claimToken, completion }));
  }

  claimDue(now: Date, limit: number, claim: Claim, recoveredAt?: Date): Promise<NotificationRecord[]> {
    return db("claim due", async () => {
      const rows = await this.prisma.$queryRaw<Record<string, unknown>[]>(claimDueSql(now, limit, claim, recoveredAt));
      return rows
        .map((r) => toRecord(fromRaw(r)))
        .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.eventId.localeCompare(b.eventId));
    });
  }

  release(eventIds: string[], claimToken: string, nextAttemptAt: Date): Promise<void> {
    return db("release", async () => {
      await this.prisma.notification.updateMany({
        where: { eventId: { in: eventIds }, claimToken, status: "received" },
        data: { status: "queued", claimToken: null, claimExpiresAt: null, nextAttemptAt },
      });
    });
  }

  claimForReplay(eventId: string, claim: Claim, now: Date): Promise<boolean> {
    return db("claim for replay", async () => {
      const { count } = await this.prisma.notification.updateMany({
        where: {
          eventId,
          OR: [
            { status: { in: [...REPLAYABLE_STATUSES] } },
            { status: "received", OR: [{ claimExpiresAt: null }, { claimExpiresAt: { lte: now } }] },
          ],
        },
        data: { status: "received", claimToken: claim.token, claimExpiresAt: claim.expiresAt },
      });
      return count === 1;
    });
  }

  attemptsOf(eventId: string): Promise<AttemptView[]> {
    return db("attempts", async () => {
      const rows = await this.prisma.deliveryAttempt.findMany({ where: { eventId }, orderBy: { id: "asc" } });
      return rows.map((r) => ({
        id: r.id.toString(),
        trigger: r.trigger as AttemptTrigger,
        operation: r.operation,
        startedAt: r.startedAt,
        durationMs: r.durationMs,
        outcome: r.outcome as AttemptOutcome,
        httpStatus: r.httpStatus ?? undefined,
        errorCode: r.errorCode ?? undefined,
        error: r.error ?? undefined,
        svixMessageId: r.svixMessageId ?? undefined,
      }));
    });
  }

  list(filter: NotificationFilter): Promise<NotificationSummary[]> {
    return db("list", async () => {
      const { after } = filter;
      const rows = await this.prisma.notification.findMany({
        where: {
          status: filter.status,
          project: filter.project,
          type: filter.type,
          createdAt: { gte: filter.since, lt: filter.until },
          ...(after
            ? {
                OR: [
                  { createdAt: { lt: after.createdAt } },
                  { createdAt: after.createdAt, eventId: { lt: after.eventId } },
                ],
              }
            : {}),
        },
        orderBy: [{ createdAt: "desc" }, { eventId: "desc" }],
        take: filter.limit,
        omit: OMIT_PAYLOAD,
      });
      return rows.map(toSummary);
    });
  }

  erasePayload(eventId: string, now: Date): Promise<"erased" | "in_flight" | "not_found"> {
    return db("erase payload", async () => {
      const erased = { payload: null, payloadPurgedAt: now };
      // Settled, or waiting for the dispatcher: nothing holds it. A queued one can never be sent now.
      const settled = await this.prisma.notification.updateMany({
        where: { eventId, status: { in: ["delivered", "rejected", "failed"] } },
        data: erased,
      });
      if (settled.count === 1) return "erased";
      const waiting = await this.prisma.notification.updateMany({
        where: { eventId, OR: [{ status: "queued" }, { status: "received", claimExpiresAt: { lte: now } }] },
        data: {
          ...erased,
          status: "failed",
          claimToken: null,
          claimExpiresAt: null,
          nextAttemptAt: null,
          lastErrorCode: "payload_erased",
          lastError: "The payload was erased by an operator before delivery",
        },
      });
      if (waiting.count === 1) return "erased";
      return (await this.prisma.notification.count({ where: { eventId } })) === 1 ? "in_flight" : "not_found";
    });
  }

  countsByProject(since: Date, options: { project?: string; limit?: number } = {}): Promise<ProjectStatusCount[]> {
    return db("counts by project", async () => {
      const where = {
        createdAt: { gte: since },
        ...(options.project === undefined ? {} : { project: options.project }),
      };
      // Bounded: the busiest projects first, then their counts by status.
      const top = await this.prisma.notification.groupBy({
        by: ["project"],
        where,
        _count: { project: true },
        orderBy: [{ _count: { project: "desc" } }, { project: "asc" }],
        take: options.limit ?? 50,
      });
      if (top.length === 0) return [];
      const rows = await this.prisma.notification.groupBy({
        by: ["project", "status"],
        where: { ...where, project: { in: top.map((t) => t.project) } },
        _count: { _all: true },
      });
      return rows.map((r) => ({ project: r.project, status: r.status as NotificationStatus, count: r._count._all }));
    });
  }

  queueDepth(now: Date): Promise<QueueDepth> {
    return db("queue depth", async () => {
      type Row = { queued: number; oldest_queued: number | null; stuck: number; oldest_stuck: number | null };
      const [row] = await this.sql.query<Row>(QUEUE_DEPTH_SQL, [now], "relay_queue_depth_v1");
      const at = (ms: number | null | undefined) => (ms === null || ms === undefined ? null : new Date(ms));
      return {
        queued: row?.queued ?? 0,
        stuck: row?.stuck ?? 0,
        oldestQueuedAt: at(row?.oldest_queued),
        oldestStuckAt: at(row?.oldest_stuck),
      };
    });
  }

  ping(): Promise<void> {
    return db("ping", async () => {
      await this.prisma.$queryRaw(Prisma.sql`SELECT 1`);
    });
  }
}
