import type { PrismaClient, QuarantinedMessage as QuarantineRow } from "../generated/prisma/client.ts";
import { boundDetails, cutText, ERROR_LIMITS, type ErrorDetail } from "../errors.ts";
import type {
  QuarantinedMessage,
  QuarantineEntry,
  QuarantineLedger,
  QuarantineReason,
} from "../core/ports/quarantine.ts";
import type { TransportKind } from "../core/transport.ts";
import { db } from "./ledgerErrors.ts";

/** How much of a quarantined body is kept: enough to see what went wrong, bounded per message. */
export const QUARANTINE_BODY_MAX_BYTES = 64 * 1024;

function toMessage(row: QuarantineRow): QuarantinedMessage {
  return {
    id: row.id.toString(),
    reason: row.reason as QuarantineReason,
    // Bounded again on the way out: rows written before details were bounded can hold megabytes.
    message: cutText(row.message, ERROR_LIMITS.message),
    details: boundDetails(JSON.parse(row.details) as ErrorDetail[]),
    transport: {
      kind: row.transport as TransportKind,
      pubsubMessageId: row.pubsubMessageId ?? undefined,
      subscription: row.subscription ?? undefined,
      publishTime: row.publishTime?.toISOString(),
    },
    eventId: row.eventId ?? undefined,
    body: row.body ? Buffer.from(row.body) : null,
    bodyBytes: row.bodyBytes,
    purgedAt: row.bodyPurgedAt,
    receivedAt: row.receivedAt,
  };
}

/** Pub/Sub messages that can never become notifications, kept for operators (Prisma, both databases). */
export class QuarantineStore implements QuarantineLedger {
  private readonly prisma: PrismaClient;

  constructor(options: { prisma: PrismaClient }) {
    this.prisma = options.prisma;
  }

  add(entry: QuarantineEntry): Promise<{ id: string; duplicate: boolean }> {
    return db("quarantine", async () => {
      const { transport } = entry;
      const publishTime = transport.publishTime ? new Date(transport.publishTime) : undefined;
      const rows = await this.prisma.quarantinedMessage.createManyAndReturn({
        data: [
          {
            reason: entry.reason,
            message: entry.message.slice(0, 1000),
            details: JSON.stringify(entry.details.slice(0, 100)),
            transport: transport.kind,
            pubsubMessageId: transport.pubsubMessageId,
            subscription: transport.subscription,
            publishTime: publishTime && !Number.isNaN(publishTime.getTime()) ? publishTime : undefined,
            eventId: entry.eventId,
            body: new Uint8Array(entry.body.subarray(0, QUARANTINE_BODY_MAX_BYTES)),
            bodyBytes: entry.body.length,
          },
        ],
        skipDuplicates: true,
        select: { id: true },
      });
      if (rows[0]) return { id: rows[0].id.toString(), duplicate: false };
      // Pub/Sub pushed it again (our answer was lost): it is quarantined once.
      const existing = await this.prisma.quarantinedMessage.findFirst({
        where: { subscription: transport.subscription, pubsubMessageId: transport.pubsubMessageId },
        select: { id: true },
      });
      return { id: existing?.id.toString() ?? "", duplicate: true };
    });
  }

  list(filter: { limit: number; after?: { receivedAt: Date; id: string } }): Promise<QuarantinedMessage[]> {
    return db("list quarantine", async () => {
      const { after } = filter;
      const rows = await this.prisma.quarantinedMessage.findMany({
        where: after
          ? {
              OR: [
                { receivedAt: { lt: after.receivedAt } },
                { receivedAt: after.receivedAt, id: { lt: BigInt(after.id) } },
              ],
            }
          : undefined,
        orderBy: [{ receivedAt: "desc" }, { id: "desc" }],
        take: filter.limit,
      });
      return rows.map(toMessage);
    });
  }

  countSince(since: Date): Promise<number> {
    return db("count quarantine", () =>
      this.prisma.quarantinedMessage.count({ where: { receivedAt: { gte: since } } }),
    );
  }
}
