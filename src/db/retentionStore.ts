import type { Prisma, PrismaClient } from "../generated/prisma/client.ts";
import {
  EMPTY_BATCH,
  type RetentionBatch,
  type RetentionCutoffs,
  type RetentionLedger,
} from "../core/ports/retention.ts";
import { db } from "./ledgerErrors.ts";

// Any constant shared by every instance; distinct from the migration lock's.
const PURGE_LOCK_KEY = 727_073_691;

// What a cleared quarantined message keeps of its message and details: they quote the body's keys and values.
const CLEARED_MESSAGE = "";
const CLEARED_DETAILS = "[]";

type Tx = Prisma.TransactionClient;
type Deleted = Pick<RetentionBatch, "notifications" | "attempts" | "deliveryEvents" | "quarantined">;
type Cleared = Pick<RetentionBatch, "payloads" | "quarantineBodies">;

/**
 * Retention in the ledger: deletes settled notifications with their attempts and delivery events,
 * and quarantined messages; clears payloads and quarantined bodies (with the quarantine's message
 * and details) — in batches. Each batch is one short transaction under a transaction-level
 * advisory lock, so one instance purges at a time (the others skip their turn instead of doing the
 * same work) and nothing is locked between batches.
 */
export class RetentionStore implements RetentionLedger {
  private readonly prisma: PrismaClient;

  constructor(options: { prisma: PrismaClient }) {
    this.prisma = options.prisma;
  }

  purge(cutoffs: RetentionCutoffs, batchSize: number, now: Date): Promise<(RetentionBatch & { more: boolean }) | null> {
    return db("purge", () =>
      this.prisma.$transaction(
        async (tx) => {
          const [lock] = await tx.$queryRaw<
            Array<{ locked: boolean }>
          >`SELECT pg_try_advisory_xact_lock(${PURGE_LOCK_KEY}) AS locked`;
          if (!lock?.locked) return null;
          const deleted = await deleteBatch(tx, cutoffs.deleteBefore, batchSize);
          // Clearing waits until nothing is left to delete: a backlog is not cleared, then deleted.
          if (deleted.full) return { ...EMPTY_BATCH, ...deleted.counts, more: true };
          const cleared = await clearBatch(tx, cutoffs.clearBefore, batchSize, now);
          return { ...deleted.counts, ...cleared.counts, more: cleared.full };
        },
        { timeout: 60_000, maxWait: 10_000 },
      ),
    );
  }
}

/** At most batchSize of each: settled notifications (with their attempts and delivery events), delivery events, quarantined messages. */
async function deleteBatch(tx: Tx, before: Date, batchSize: number): Promise<{ counts: Deleted; full: boolean }> {
  // A row an operator is replaying right now is locked, so skipped; "updated" keeps one replayed
  // recently. Its attempts go in the same statement (their foreign key would cascade, but deleting
  // them here counts them), and so do its delivery events (nothing links them but the event id).
  // The ids go round as one array so each table is reached through its event_id index (a join
  // let PostgreSQL scan svix_delivery_events whole).
  const [notifications] = await tx.$queryRaw<Array<{ notifications: number; attempts: number; events: number }>>`
    WITH doomed AS (
      SELECT array_agg(event_id) AS ids FROM (
        SELECT event_id FROM notifications
        WHERE created_at < ${before} AND updated_at < ${before} AND status IN ('delivered', 'rejected', 'failed')
        LIMIT ${batchSize}
        FOR UPDATE SKIP LOCKED) oldest
    ),
    attempts AS (DELETE FROM delivery_attempts WHERE event_id = ANY ((SELECT ids FROM doomed)::text[]) RETURNING 1),
    events AS (DELETE FROM svix_delivery_events WHERE event_id = ANY ((SELECT ids FROM doomed)::text[]) RETURNING 1),
    gone AS (DELETE FROM notifications WHERE event_id = ANY ((SELECT ids FROM doomed)::text[]) RETURNING 1)
    SELECT (SELECT count(*) FROM gone)::int AS notifications, (SELECT count(*) FROM attempts)::int AS attempts,
           (SELECT count(*) FROM events)::int AS events`;
  // Delivery events the statement above left: unmatched ones, endpoint events, those of kept notifications.
  const events = await tx.$executeRaw`
    DELETE FROM svix_delivery_events WHERE id IN (
      SELECT id FROM svix_delivery_events WHERE received_at < ${before} LIMIT ${batchSize})`;
  const quarantined = await tx.$executeRaw`
    DELETE FROM quarantined_messages WHERE id IN (
      SELECT id FROM quarantined_messages WHERE received_at < ${before} LIMIT ${batchSize} FOR UPDATE SKIP LOCKED)`;
  const n = notifications ?? { notifications: 0, attempts: 0, events: 0 };
  return {
    counts: {
      notifications: n.notifications,
      attempts: n.attempts,
      deliveryEvents: n.events + events,
      quarantined,
    },
    full: [n.notifications, events, quarantined].includes(batchSize),
  };
}

/** At most batchSize of each: payloads of settled notifications, quarantined bodies with their message and details. */
async function clearBatch(
  tx: Tx,
  before: Date,
  batchSize: number,
  now: Date,
): Promise<{ counts: Cleared; full: boolean }> {
  // Both scans follow a partial index of what is left to clear: the rows cleared earlier, months
  // of them, are never walked past again.
  const payloads = await tx.$executeRaw`
    UPDATE notifications SET payload = NULL, payload_purged_at = ${now}
    WHERE event_id IN (
      SELECT event_id FROM notifications
      WHERE payload IS NOT NULL AND created_at < ${before} AND status IN ('delivered', 'rejected', 'failed')
      LIMIT ${batchSize}
      FOR UPDATE SKIP LOCKED)`;
  const quarantineBodies = await tx.$executeRaw`
    UPDATE quarantined_messages SET body = NULL, message = ${CLEARED_MESSAGE}, details = ${CLEARED_DETAILS}, body_purged_at = ${now}
    WHERE id IN (
      SELECT id FROM quarantined_messages
      WHERE body_purged_at IS NULL AND received_at < ${before}
      LIMIT ${batchSize}
      FOR UPDATE SKIP LOCKED)`;
  return { counts: { payloads, quarantineBodies }, full: payloads === batchSize || quarantineBodies === batchSize };
}
