import { AppError, isAppError } from "../errors.ts";
import type { PlatformEvent } from "../notifications/event.ts";
import type {
  ApplicationDirectory,
  AttemptOutcome,
  AttemptTrigger,
  AttemptView,
  Completion,
  NotificationFilter,
  NotificationLedger,
  NotificationRecord,
  NotificationSummary,
  SvixApp,
} from "../notifications/ports.ts";
import type { Transport, TransportKind } from "../notifications/transport.ts";
import type { Notification, PrismaClient } from "../generated/prisma/client.ts";

/** Turns any database failure into a retryable AppError: the caller answers 503, Pub/Sub redelivers. */
async function db<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (isAppError(error)) throw error;
    throw new AppError("database_unavailable", `The ledger is unavailable (${what})`, { cause: error, retryAfterSeconds: 2 });
  }
}

function toSummary(row: Omit<Notification, "payload">): NotificationSummary {
  return {
    eventId: row.eventId,
    project: row.project,
    type: row.type,
    status: row.status,
    attempts: row.attempts,
    failures: row.failures,
    svixAppId: row.svixAppId,
    svixMessageId: row.svixMessageId,
    lastErrorCode: row.lastErrorCode,
    lastError: row.lastError,
    transport: {
      kind: row.transport as TransportKind,
      pubsubMessageId: row.pubsubMessageId ?? undefined,
      subscription: row.subscription ?? undefined,
      deliveryAttempt: row.deliveryAttempt ?? undefined,
    },
    claimExpiresAt: row.claimExpiresAt,
    nextAttemptAt: row.nextAttemptAt,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    deliveredAt: row.deliveredAt,
  };
}

function toRecord(row: Notification): NotificationRecord {
  return { ...toSummary(row), payload: JSON.parse(row.payload) as PlatformEvent };
}

/** The ledger on Prisma: one implementation for PostgreSQL and the embedded PGlite. */
export class NotificationStore implements NotificationLedger, ApplicationDirectory {
  private readonly prisma: PrismaClient;

  constructor(options: { prisma: PrismaClient }) {
    this.prisma = options.prisma;
  }

  insertClaimed(event: PlatformEvent, transport: Transport, claimToken: string, claimExpiresAt: Date): Promise<boolean> {
    return db("insert", async () => {
      // ON CONFLICT DO NOTHING: the unique event id decides who owns the event, without an
      // exception and without a transaction that a concurrent insert could abort.
      const { count } = await this.prisma.notification.createMany({
        data: [
          {
            eventId: event.id,
            project: event.project,
            type: event.type,
            status: "received",
            payload: JSON.stringify(event),
            transport: transport.kind,
            pubsubMessageId: transport.pubsubMessageId,
            subscription: transport.subscription,
            deliveryAttempt: transport.deliveryAttempt,
            claimToken,
            claimExpiresAt,
          },
        ],
        skipDuplicates: true,
      });
      return count === 1;
    });
  }

  takeOver(eventId: string, claimToken: string, claimExpiresAt: Date, now: Date, options: { dueOnly?: boolean; includeRejected?: boolean } = {}): Promise<boolean> {
    return db("take over", async () => {
      const failed = options.dueOnly
        ? { status: "failed" as const, OR: [{ nextAttemptAt: null }, { nextAttemptAt: { lte: now } }] }
        : { status: "failed" as const };
      const { count } = await this.prisma.notification.updateMany({
        where: {
          eventId,
          OR: [
            failed,
            { status: "received", OR: [{ claimExpiresAt: null }, { claimExpiresAt: { lte: now } }] },
            ...(options.includeRejected ? [{ status: "rejected" as const }] : []),
          ],
        },
        data: { status: "received", claimToken, claimExpiresAt },
      });
      return count === 1;
    });
  }

  complete(eventId: string, claimToken: string, completion: Completion): Promise<void> {
    return db("complete", async () => {
      const attempt = completion.attempts.at(-1);
      const delivered = completion.status === "delivered";
      const data = {
        status: completion.status,
        attempts: { increment: completion.attempts.length },
        failures: { increment: completion.status === "failed" ? 1 : 0 },
        claimToken: null,
        claimExpiresAt: null,
        ...(completion.svixAppId ? { svixAppId: completion.svixAppId } : {}),
        ...(completion.svixMessageId ? { svixMessageId: completion.svixMessageId } : {}),
        lastErrorCode: completion.errorCode ?? null,
        lastError: completion.error ?? null,
        nextAttemptAt: completion.nextAttemptAt ?? null,
        ...(delivered ? { deliveredAt: attempt?.startedAt ?? new Date() } : {}),
      };
      const [, owned] = await this.prisma.$transaction([
        this.prisma.deliveryAttempt.createMany({
          data: completion.attempts.map((a) => ({
            eventId,
            trigger: a.trigger,
            operation: a.operation,
            startedAt: a.startedAt,
            durationMs: a.durationMs,
            outcome: a.outcome,
            httpStatus: a.httpStatus,
            errorCode: a.errorCode,
            error: a.error,
            svixMessageId: a.svixMessageId,
          })),
        }),
        this.prisma.notification.updateMany({ where: { eventId, claimToken }, data }),
      ]);
      if (owned.count === 0 && delivered) {
        // Our claim expired and someone else holds the event now; Svix's answer is still the
        // truth, so a delivery is recorded unless the row already says delivered.
        await this.prisma.notification.updateMany({ where: { eventId, status: { not: "delivered" } }, data });
      }
    });
  }

  get(eventId: string): Promise<NotificationRecord | null> {
    return db("get", async () => {
      const row = await this.prisma.notification.findUnique({ where: { eventId } });
      return row ? toRecord(row) : null;
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
      const rows = await this.prisma.notification.findMany({
        where: { status: filter.status, project: filter.project },
        orderBy: [{ createdAt: "desc" }, { eventId: "asc" }],
        take: filter.limit,
        omit: { payload: true },
      });
      return rows.map(toSummary);
    });
  }

  due(now: Date, limit: number): Promise<NotificationRecord[]> {
    return db("due", async () => {
      const rows = await this.prisma.notification.findMany({
        where: {
          OR: [
            { status: "failed", OR: [{ nextAttemptAt: null }, { nextAttemptAt: { lte: now } }] },
            { status: "received", claimExpiresAt: { lte: now } },
          ],
        },
        orderBy: { updatedAt: "asc" },
        take: limit,
      });
      return rows.map(toRecord);
    });
  }

  ping(): Promise<void> {
    return db("ping", async () => {
      await this.prisma.$queryRaw`SELECT 1`;
    });
  }

  find(project: string): Promise<SvixApp | null> {
    return db("find application", async () => {
      const row = await this.prisma.svixApplication.findUnique({ where: { project } });
      return row ? { id: row.svixAppId, uid: row.uid } : null;
    });
  }

  save(project: string, app: SvixApp): Promise<void> {
    return db("save application", async () => {
      await this.prisma.svixApplication.createMany({ data: [{ project, uid: app.uid, svixAppId: app.id }], skipDuplicates: true });
    });
  }
}
