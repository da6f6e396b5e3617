-- AlterEnum
-- A migration of its own: PostgreSQL cannot use a new enum value in the transaction that adds it,
-- and the next migration moves rows to it.
ALTER TYPE "NotificationStatus" ADD VALUE 'queued';
