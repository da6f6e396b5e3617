import { Counter, Gauge, type Registry } from "prom-client";

/** What waits for the dispatcher, as the ledger says (one query). */
export interface QueueSnapshot {
  /** Notifications queued for the dispatcher. */
  queued: number;
  /** Received notifications whose claim has expired: their delivery died, the dispatcher takes them over. */
  stuck: number;
  /** Arrival of the oldest queued or stuck notification, epoch ms; null when there is none. */
  oldestArrivalMs: number | null;
}

export interface QueueSource {
  /** One ledger query. */
  read(): Promise<QueueSnapshot>;
  /** The relay's clock, epoch ms: when a read is due, and how old the oldest notification is. */
  now(): number;
}

/**
 * A scrape reuses a read this long: Prometheus (and each replica of a managed collector) may
 * scrape every few seconds, on every instance, and the count is the same for all of them.
 */
export const QUEUE_REFRESH_MS = 5_000;

export interface QueueGauges {
  /** Starts reading the gauges from `source` on scrape; until a read succeeds the depth has no series and the age is 0. */
  watch(source: QueueSource): void;
}

/**
 * The queue's gauges, read from the ledger when Prometheus scrapes (prom-client awaits `collect`)
 * rather than kept in step by every write: the ledger is shared by every instance, and only it
 * knows what the others queued. A failed read must not fail the scrape, which would hide every
 * other metric: the gauges keep the last values read, and the failure is counted.
 */
export function queueGauges(registers: Registry[], refreshMs = QUEUE_REFRESH_MS): QueueGauges {
  let source: QueueSource | undefined;
  let last: { at: number; reading: Promise<void> } | undefined;
  let values: { queued: number; stuck: number; oldestAgeSeconds: number } | undefined;

  // Whichever of the three a scrape collects first starts the read, and each waits for it: the
  // failure counter included, or it would tell of a failure one scrape late.
  const readFailures = new Counter({
    name: "relay_queue_depth_read_failures_total",
    help: "Ledger reads for relay_queue_depth and relay_queue_oldest_age_seconds that failed (they keep their last values)",
    registers,
    collect: () => refresh(),
  });
  // Concurrent scrapes share one read; a read (failed or not) is reused for refreshMs. A clock set
  // back (a test's, or an NTP step) reads again rather than waiting for the old time to return.
  const refresh = (): Promise<void> => {
    if (!source) return Promise.resolve();
    const from = source;
    const now = from.now();
    if (last && now >= last.at && now - last.at < refreshMs) return last.reading;
    const reading = from.read().then(
      (snapshot) => {
        const oldest = snapshot.oldestArrivalMs;
        values = {
          queued: snapshot.queued,
          stuck: snapshot.stuck,
          oldestAgeSeconds: oldest === null ? 0 : Math.max(0, (now - oldest) / 1000),
        };
      },
      () => readFailures.inc(),
    );
    last = { at: now, reading };
    return reading;
  };

  // Registered in `registers`; prom-client reads them through collect().
  new Gauge({
    name: "relay_queue_depth",
    help: "Notifications waiting for the dispatcher: status=queued, and status=received whose claim has expired (stuck)",
    labelNames: ["status"],
    registers,
    async collect() {
      await refresh();
      if (!values) return;
      this.set({ status: "queued" }, values.queued);
      this.set({ status: "received" }, values.stuck);
    },
  });
  new Gauge({
    name: "relay_queue_oldest_age_seconds",
    help: "Age of the oldest queued or stuck notification, seconds since it arrived (0 when none)",
    registers,
    async collect() {
      await refresh();
      if (values) this.set(values.oldestAgeSeconds);
    },
  });
  return {
    watch(next) {
      source = next;
      last = undefined;
    },
  };
}
