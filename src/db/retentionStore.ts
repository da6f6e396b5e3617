import type { PrismaClient } from "../generated/prisma/client.ts";
import type { RetentionLedger } from "../core/ports/retention.ts";
import { db } from "./ledgerErrors.ts";

// Any constant shared by every instance; distinct from the migration lock's.
const PURGE_LOCK_KEY = 727_073_691;

/**
 * Personal-data retention in the ledger: clears payloads and quarantined bodies in batches,
 * under a transaction-level advisory lock so one instance purges at a time (the others skip
 * their turn instead of doing the same work).
 */
export class RetentionStore implements RetentionLedger {
  private readonly prisma: PrismaClient;

  constructor(options: { prisma: PrismaClient }) {
    this.prisma = options.prisma;
  }

  /** One transaction of at most one batch of each kind: short locks, and a huge backlog cannot time out. */
  purge(before: Date, batchSize: number, now: Date): Promise<{ notifications: number; quarantined: number } | null> {
    return db("purge", () =>
      this.prisma.$transaction(
        async (tx) => {
          const [lock] = await tx.$queryRaw<
            Array<{ locked: boolean }>
          >`SELECT pg_try_advisory_xact_lock(${PURGE_LOCK_KEY}) AS locked`;
          if (!lock?.locked) return null;
          const notifications = await tx.$executeRaw`
            UPDATE notifications SET payload = NULL, payload_purged_at = ${now}
            WHERE event_id IN (
              SELECT event_id FROM notifications
              WHERE status IN ('delivered', 'rejected', 'failed') AND created_at < ${before} AND payload IS NOT NULL
              LIMIT ${batchSize})`;
          const quarantined = await tx.$executeRaw`
            UPDATE quarantined_messages SET body = NULL, body_purged_at = ${now}
            WHERE id IN (SELECT id FROM quarantined_messages WHERE received_at < ${before} AND body IS NOT NULL LIMIT ${batchSize})`;
          return { notifications, quarantined };
        },
        { timeout: 60_000, maxWait: 10_000 },
      ),
    );
  }
}
