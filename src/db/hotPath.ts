import type { Completion, NewNotification } from "../core/ports/ledger.ts";
import { Batcher } from "./batcher.ts";
import type { SqlRunner } from "./database.ts";

/** Error texts come from Svix and from us; bounded, so a row (and a page of them) stays small. */
export const ERROR_TEXT_MAX = 500;

// The two statements of a new event's fast path, each batched across concurrent events: one
// multi-row INSERT for the claims, one statement for the completions (the attempts and the status
// in a single data-modifying WITH, so they commit together). Arrays go in as text and are cast in
// SQL: PGlite serializes only the array types it knows. Same SQL on PostgreSQL and PGlite.

const INSERT_SQL = `
WITH input AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::int[], $11::timestamptz[], $12::text[], $13::timestamptz[], $14::timestamptz[], $15::text[])
    AS t(event_id, project, type, status, payload, payload_digest, transport, pubsub_message_id, subscription, delivery_attempt, publish_time, claim_token, claim_expires_at, next_attempt_at, trace_context)
)
INSERT INTO notifications (event_id, project, type, status, payload, payload_digest, transport, pubsub_message_id, subscription, delivery_attempt, publish_time, claim_token, claim_expires_at, next_attempt_at, trace_context, created_at, updated_at)
SELECT event_id, project, type, status::"NotificationStatus", payload, payload_digest, transport, pubsub_message_id, subscription, delivery_attempt, publish_time, claim_token, claim_expires_at, next_attempt_at, trace_context, now(), now()
FROM input
ON CONFLICT (event_id) DO NOTHING
RETURNING event_id`;

const COMPLETE_SQL = `
WITH input AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::int[], $6::text[], $7::text[], $8::text[], $9::text[], $10::timestamptz[], $11::timestamptz[])
    AS t(event_id, claim_token, status, attempts_made, failure, svix_app_uid, svix_message_id, last_error_code, last_error, next_attempt_at, delivered_at)
),
attempts AS (
  INSERT INTO delivery_attempts (event_id, trigger, operation, started_at, duration_ms, outcome, http_status, error_code, error, svix_message_id)
  SELECT * FROM unnest($12::text[], $13::text[], $14::text[], $15::timestamptz[], $16::int[], $17::text[], $18::int[], $19::text[], $20::text[], $21::text[])
)
UPDATE notifications n SET
  status = i.status::"NotificationStatus",
  attempts = n.attempts + i.attempts_made,
  failures = n.failures + i.failure,
  claim_token = NULL,
  claim_expires_at = NULL,
  svix_app_uid = COALESCE(i.svix_app_uid, n.svix_app_uid),
  svix_message_id = COALESCE(i.svix_message_id, n.svix_message_id),
  last_error_code = i.last_error_code,
  last_error = i.last_error,
  next_attempt_at = i.next_attempt_at,
  delivered_at = COALESCE(i.delivered_at, n.delivered_at, CASE WHEN i.status = 'delivered' THEN now() END),
  updated_at = now()
FROM input i
WHERE n.event_id = i.event_id AND n.claim_token = i.claim_token
RETURNING n.event_id`;

/** A delivery whose claim was taken over meanwhile: Svix's answer is still the truth, unless the row already says delivered. */
const COMPLETE_LOST_CLAIM_SQL = `
UPDATE notifications SET status = 'delivered', attempts = attempts + $2, claim_token = NULL, claim_expires_at = NULL,
  svix_app_uid = COALESCE($3, svix_app_uid), svix_message_id = COALESCE($4, svix_message_id), last_error_code = NULL, last_error = NULL,
  next_attempt_at = NULL, delivered_at = COALESCE($5::timestamptz, delivered_at, now()), updated_at = now()
WHERE event_id = $1 AND status <> 'delivered'`;

export interface CompleteItem {
  eventId: string;
  claimToken: string;
  completion: Completion;
}

/** The fast path's writes, batched across concurrent events (group commit). */
export class HotPathWriter {
  private readonly sql: SqlRunner;
  private readonly inserts: Batcher<NewNotification, boolean>;
  private readonly completions: Batcher<CompleteItem, undefined>;

  constructor(sql: SqlRunner, options: { maxBatch?: number; maxConcurrentFlushes?: number } = {}) {
    this.sql = sql;
    this.inserts = new Batcher((items) => this.insertBatch(items), options);
    this.completions = new Batcher((items) => this.completeBatch(items), options);
  }

  /** True when this call inserted the notification; false when its event id was known. */
  insert(entry: NewNotification): Promise<boolean> {
    return this.inserts.submit(entry);
  }

  complete(item: CompleteItem): Promise<undefined> {
    return this.completions.submit(item);
  }

  private async insertBatch(items: NewNotification[]): Promise<boolean[]> {
    // The same event twice in one batch: the first is inserted, the later ones are duplicates.
    const first = new Map<string, number>();
    for (const [i, item] of items.entries()) if (!first.has(item.event.id)) first.set(item.event.id, i);
    const rows = [...first.values()].map((i) => items[i]!);
    const columns = (pick: (e: NewNotification) => unknown) => rows.map(pick);
    const inserted = await this.sql.query<{ event_id: string }>(
      INSERT_SQL,
      [
        columns((e) => e.event.id),
        columns((e) => e.event.project),
        columns((e) => e.event.type),
        columns((e) => e.status),
        columns((e) => JSON.stringify(e.event)),
        columns((e) => e.payloadDigest),
        columns((e) => e.transport.kind),
        columns((e) => e.transport.pubsubMessageId ?? null),
        columns((e) => e.transport.subscription ?? null),
        columns((e) => e.transport.deliveryAttempt ?? null),
        columns((e) => (e.transport.publishTime ? new Date(e.transport.publishTime) : null)),
        columns((e) => e.claimToken ?? null),
        columns((e) => e.claimExpiresAt ?? null),
        columns((e) => e.nextAttemptAt ?? null),
        columns((e) => e.traceContext ?? null),
      ],
      "relay_insert_notifications_v2",
    );
    const won = new Set(inserted.map((r) => r.event_id));
    return items.map((item, i) => first.get(item.event.id) === i && won.has(item.event.id));
  }

  private async completeBatch(items: CompleteItem[]): Promise<undefined[]> {
    const c = (pick: (item: CompleteItem) => unknown) => items.map(pick);
    const attempts = items.flatMap((item) => item.completion.attempts.map((a) => ({ eventId: item.eventId, a })));
    const at = (pick: (x: (typeof attempts)[number]) => unknown) => attempts.map(pick);
    const deliveredAt = (item: CompleteItem) =>
      item.completion.status === "delivered" ? (item.completion.attempts.at(-1)?.startedAt ?? null) : null;
    const owned = await this.sql.query<{ event_id: string }>(
      COMPLETE_SQL,
      [
        c((i) => i.eventId),
        c((i) => i.claimToken),
        c((i) => i.completion.status),
        c((i) => i.completion.attempts.length),
        c((i) => (i.completion.countsAsFailure ? 1 : 0)),
        c((i) => i.completion.svixAppUid ?? null),
        c((i) => i.completion.svixMessageId ?? null),
        c((i) => i.completion.errorCode ?? null),
        c((i) => i.completion.error?.slice(0, ERROR_TEXT_MAX) ?? null),
        c((i) => i.completion.nextAttemptAt ?? null),
        c(deliveredAt),
        at((x) => x.eventId),
        at((x) => x.a.trigger),
        at((x) => x.a.operation),
        at((x) => x.a.startedAt),
        at((x) => x.a.durationMs),
        at((x) => x.a.outcome),
        at((x) => x.a.httpStatus ?? null),
        at((x) => x.a.errorCode ?? null),
        at((x) => x.a.error?.slice(0, ERROR_TEXT_MAX) ?? null),
        at((x) => x.a.svixMessageId ?? null),
      ],
      "relay_complete_notifications_v2",
    );
    const done = new Set(owned.map((r) => r.event_id));
    for (const item of items) {
      if (done.has(item.eventId) || item.completion.status !== "delivered") continue;
      const { completion } = item;
      await this.sql.query(COMPLETE_LOST_CLAIM_SQL, [
        item.eventId,
        completion.attempts.length,
        completion.svixAppUid ?? null,
        completion.svixMessageId ?? null,
        deliveredAt(item),
      ]);
    }
    return items.map(() => undefined);
  }
}
