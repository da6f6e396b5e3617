-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateEnum
CREATE TYPE "NotificationStatus" AS ENUM ('received', 'delivered', 'failed', 'rejected');

-- CreateTable
CREATE TABLE "notifications" (
    "event_id" TEXT NOT NULL,
    "project" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "status" "NotificationStatus" NOT NULL DEFAULT 'received',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "failures" INTEGER NOT NULL DEFAULT 0,
    "svix_app_id" TEXT,
    "svix_message_id" TEXT,
    "last_error_code" TEXT,
    "last_error" TEXT,
    "payload" TEXT NOT NULL,
    "transport" TEXT NOT NULL,
    "pubsub_message_id" TEXT,
    "subscription" TEXT,
    "delivery_attempt" INTEGER,
    "claim_token" TEXT,
    "claim_expires_at" TIMESTAMPTZ(3),
    "next_attempt_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,
    "delivered_at" TIMESTAMPTZ(3),

    CONSTRAINT "notifications_pkey" PRIMARY KEY ("event_id")
);

-- CreateTable
CREATE TABLE "delivery_attempts" (
    "id" BIGSERIAL NOT NULL,
    "event_id" TEXT NOT NULL,
    "trigger" TEXT NOT NULL,
    "operation" TEXT NOT NULL DEFAULT 'message.create',
    "started_at" TIMESTAMPTZ(3) NOT NULL,
    "duration_ms" INTEGER NOT NULL,
    "outcome" TEXT NOT NULL,
    "http_status" INTEGER,
    "error_code" TEXT,
    "error" TEXT,
    "svix_message_id" TEXT,

    CONSTRAINT "delivery_attempts_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "svix_applications" (
    "project" TEXT NOT NULL,
    "uid" TEXT NOT NULL,
    "svix_app_id" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "svix_applications_pkey" PRIMARY KEY ("project")
);

-- CreateIndex
CREATE INDEX "notifications_status_next_attempt_at_idx" ON "notifications"("status", "next_attempt_at");

-- CreateIndex
CREATE INDEX "notifications_project_created_at_idx" ON "notifications"("project", "created_at");

-- CreateIndex
CREATE INDEX "notifications_created_at_idx" ON "notifications"("created_at");

-- CreateIndex
CREATE INDEX "delivery_attempts_event_id_started_at_idx" ON "delivery_attempts"("event_id", "started_at");

-- CreateIndex
CREATE UNIQUE INDEX "svix_applications_uid_key" ON "svix_applications"("uid");

-- AddForeignKey
ALTER TABLE "delivery_attempts" ADD CONSTRAINT "delivery_attempts_event_id_fkey" FOREIGN KEY ("event_id") REFERENCES "notifications"("event_id") ON DELETE CASCADE ON UPDATE CASCADE;
