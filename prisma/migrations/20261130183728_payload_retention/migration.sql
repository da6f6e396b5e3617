-- AlterTable
ALTER TABLE "notifications" ADD COLUMN     "payload_purged_at" TIMESTAMPTZ(3),
ALTER COLUMN "payload" DROP NOT NULL;

-- AlterTable
ALTER TABLE "quarantined_messages" ADD COLUMN     "body_purged_at" TIMESTAMPTZ(3);
