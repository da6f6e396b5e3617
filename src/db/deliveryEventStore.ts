import type { PrismaClient, SvixDeliveryEvent } from "../generated/prisma/client.ts";
import type { DeliveryEvent, DeliveryEventLedger, DeliveryEventView } from "../core/ports/deliveryEvents.ts";
import { db } from "./ledgerErrors.ts";

function toView(row: SvixDeliveryEvent): DeliveryEventView {
  return {
    svixId: row.svixId,
    type: row.type,
    eventId: row.eventId,
    appUid: row.appUid,
    project: row.project,
    msgId: row.msgId,
    endpointId: row.endpointId,
    responseStatus: row.responseStatus,
    occurredAt: row.occurredAt,
    receivedAt: row.receivedAt,
  };
}

/** Svix's delivery outcomes (operational webhooks), on Prisma. */
export class DeliveryEventStore implements DeliveryEventLedger {
  private readonly prisma: PrismaClient;

  constructor(options: { prisma: PrismaClient }) {
    this.prisma = options.prisma;
  }

  add(event: DeliveryEvent): Promise<boolean> {
    return db("delivery event", async () => {
      const { count } = await this.prisma.svixDeliveryEvent.createMany({ data: [event], skipDuplicates: true });
      return count === 1;
    });
  }

  forNotification(eventId: string): Promise<DeliveryEventView[]> {
    return db("delivery events", async () =>
      (
        await this.prisma.svixDeliveryEvent.findMany({ where: { eventId }, orderBy: { occurredAt: "asc" }, take: 100 })
      ).map(toView),
    );
  }

  recent(filter: { project?: string; limit: number }): Promise<DeliveryEventView[]> {
    return db("recent delivery events", async () =>
      (
        await this.prisma.svixDeliveryEvent.findMany({
          where: { project: filter.project },
          orderBy: [{ receivedAt: "desc" }, { id: "desc" }],
          take: filter.limit,
        })
      ).map(toView),
    );
  }

  notificationOf(
    msgEventId: string | null,
    msgId: string | null,
  ): Promise<{ eventId: string; project: string } | null> {
    return db("match delivery event", async () => {
      const select = { eventId: true, project: true } as const;
      if (msgEventId) {
        const byEventId = await this.prisma.notification.findUnique({ where: { eventId: msgEventId }, select });
        if (byEventId) return byEventId;
      }
      // Event ids Svix could not take were sent as a digest: the message id still names it.
      return msgId ? this.prisma.notification.findFirst({ where: { svixMessageId: msgId }, select }) : null;
    });
  }
}
