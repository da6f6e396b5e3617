// Personal-data retention: implemented by src/db/retentionStore.ts.

/** Personal-data retention across both stores. */
export interface RetentionLedger {
  /**
   * Clears the payloads of settled notifications and the bodies of quarantined messages that
   * arrived before `before`, at most batchSize of each, keeping the audit rows. Null when
   * another instance is purging. `now` is stamped as the purge time.
   */
  purge(before: Date, batchSize: number, now: Date): Promise<{ notifications: number; quarantined: number } | null>;
}
