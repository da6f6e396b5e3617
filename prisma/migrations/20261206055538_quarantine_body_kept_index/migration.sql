-- Retention finds the quarantined bodies left to clear without walking past those already cleared.
-- CreateIndex
CREATE INDEX CONCURRENTLY "quarantined_messages_body_kept_received_at_idx" ON "quarantined_messages"("received_at") WHERE (body_purged_at IS NULL);
