-- Retention finds the payloads left to clear without walking past those already cleared. Only
-- settled rows: a new event's claim adds no entry (its completion changes indexed columns anyway).
-- CONCURRENTLY (and alone in its migration: it cannot run in a transaction): building it reads the
-- whole ledger, which must keep taking events meanwhile.
-- CreateIndex
CREATE INDEX CONCURRENTLY "notifications_payload_kept_created_at_idx" ON "notifications"("created_at") WHERE (payload IS NOT NULL AND status IN ('delivered', 'rejected', 'failed'));
