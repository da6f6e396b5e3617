// Retention of everything the ledger keeps: implemented by src/db/retentionStore.ts.

/** The two edges of retention: what arrived before each is cleared, or deleted. */
export interface RetentionCutoffs {
  /** Payloads, quarantined bodies and the quarantine's message and details from before this are cleared. */
  clearBefore: Date;
  /**
   * Settled notifications (with their attempts and delivery events), quarantined messages and
   * delivery events from before this are deleted. Never later than clearBefore.
   */
  deleteBefore: Date;
}

/** What one batch did, row counts by kind. */
export interface RetentionBatch {
  /** Notification payloads cleared. */
  payloads: number;
  /** Quarantined messages whose body, message and details were cleared (the last two quote the body). */
  quarantineBodies: number;
  /** Settled notifications deleted. */
  notifications: number;
  /** Delivery attempts deleted with their notification. */
  attempts: number;
  /** Svix delivery events deleted: those of a deleted notification, and any received before deleteBefore. */
  deliveryEvents: number;
  /** Quarantined messages deleted. */
  quarantined: number;
}

export const EMPTY_BATCH: Readonly<RetentionBatch> = Object.freeze({
  payloads: 0,
  quarantineBodies: 0,
  notifications: 0,
  attempts: 0,
  deliveryEvents: 0,
  quarantined: 0,
});

export interface RetentionLedger {
  /**
   * One batch, in one short transaction: clears at most batchSize rows of each kind from before
   * cutoffs.clearBefore, and deletes at most batchSize settled notifications, quarantined
   * messages and delivery events from before cutoffs.deleteBefore. `received` and `queued`
   * notifications are never touched. `more`: some kind filled its batch, so more may be left.
   * Null when another instance is purging. `now` is stamped as the purge time.
   */
  purge(cutoffs: RetentionCutoffs, batchSize: number, now: Date): Promise<(RetentionBatch & { more: boolean }) | null>;
}
