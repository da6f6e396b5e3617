-- The dispatcher claims the oldest due notifications. Without this index PostgreSQL read every
-- queued row and sorted them for each claim of 128 (measured: 70 ms a claim with 25000 queued
-- so that a backlog drained at about 370 messages/s with Svix at 100 ms). With it the claim walks
-- the backlog in order and stops after 128 (3 ms). Only the backlog has entries (queued rows and
-- claimed ones not settled yet): delivered rows add nothing to walk past.
-- CONCURRENTLY (and alone in its migration): the ledger keeps taking events while it is built.
-- CreateIndex
CREATE INDEX CONCURRENTLY "notifications_backlog_created_at_idx" ON "notifications"("created_at", "event_id") WHERE (payload IS NOT NULL AND status IN ('queued', 'received'));
