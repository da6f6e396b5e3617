-- Retention now clears a quarantined message's message and details with its body (they quote the
-- body's keys and values): rows whose body was already cleared lose them too.
UPDATE "quarantined_messages" SET "message" = '', "details" = '[]' WHERE "body_purged_at" IS NOT NULL;
