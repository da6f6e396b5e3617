-- CreateTable
CREATE TABLE "svix_delivery_events" (
    "id" BIGSERIAL NOT NULL,
    "svix_id" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "event_id" TEXT,
    "app_uid" TEXT,
    "project" TEXT,
    "msg_id" TEXT,
    "endpoint_id" TEXT,
    "response_status" INTEGER,
    "occurred_at" TIMESTAMPTZ(3) NOT NULL,
    "received_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "svix_delivery_events_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "svix_delivery_events_svix_id_key" ON "svix_delivery_events"("svix_id");

-- CreateIndex
CREATE INDEX "svix_delivery_events_event_id_idx" ON "svix_delivery_events"("event_id");

-- CreateIndex
CREATE INDEX "svix_delivery_events_project_received_at_idx" ON "svix_delivery_events"("project", "received_at");

-- CreateIndex
CREATE INDEX "svix_delivery_events_received_at_idx" ON "svix_delivery_events"("received_at");
