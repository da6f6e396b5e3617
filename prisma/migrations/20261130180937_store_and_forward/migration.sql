-- Store and forward: a notification waiting for the dispatcher is `queued` (it used to be
-- `failed`, which now means the dispatcher gave up). The Svix application is addressed by uid.

-- AlterTable
ALTER TABLE "notifications" ADD COLUMN     "payload_digest" TEXT,
ADD COLUMN     "publish_time" TIMESTAMPTZ(3),
ADD COLUMN     "svix_app_uid" TEXT;

-- Existing rows: failed (waiting for a redrive) become queued, and take the application uid from the mapping table.
UPDATE "notifications" SET "status" = 'queued' WHERE "status" = 'failed';
UPDATE "notifications" AS n SET "svix_app_uid" = a."uid" FROM "svix_applications" AS a WHERE a."project" = n."project";

ALTER TABLE "notifications" DROP COLUMN "svix_app_id";

-- DropTable
DROP TABLE "svix_applications";

-- CreateTable
CREATE TABLE "quarantined_messages" (
    "id" BIGSERIAL NOT NULL,
    "reason" TEXT NOT NULL,
    "message" TEXT NOT NULL,
    "details" TEXT NOT NULL,
    "transport" TEXT NOT NULL,
    "pubsub_message_id" TEXT,
    "subscription" TEXT,
    "publish_time" TIMESTAMPTZ(3),
    "event_id" TEXT,
    "body" BYTEA,
    "body_bytes" INTEGER NOT NULL,
    "received_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "quarantined_messages_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "quarantined_messages_received_at_idx" ON "quarantined_messages"("received_at");

-- CreateIndex
CREATE UNIQUE INDEX "quarantined_messages_subscription_pubsub_message_id_key" ON "quarantined_messages"("subscription", "pubsub_message_id");

-- CreateIndex
CREATE INDEX "notifications_status_created_at_idx" ON "notifications"("status", "created_at");
