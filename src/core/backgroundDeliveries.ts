import type { Logger } from "pino";
import { isAppError } from "../errors.ts";
import type { Clock } from "./ports/clock.ts";
import type { NotificationLedger } from "./ports/ledger.ts";
import { settledWithin } from "./settledWithin.ts";

interface Pending {
  eventId: string;
  claimToken: string;
}

/**
 * The deliveries this instance carries on after it answered (Pub/Sub is acknowledged once the
 * ledger owns an event; the Svix call follows, under the same claim). Kept so that shutdown can
 * let them finish, and hand back — due at once — the claims of those that could not, instead of
 * leaving them to expire (CLAIM_TTL_MS) before another instance may send them.
 */
export class BackgroundDeliveries {
  private readonly pending = new Map<Promise<unknown>, Pending>();
  private readonly ledger: NotificationLedger;
  private readonly logger: Logger;
  private readonly clock: Clock;

  constructor(options: { ledger: NotificationLedger; logger: Logger; clock: Clock }) {
    this.ledger = options.ledger;
    this.logger = options.logger;
    this.clock = options.clock;
  }

  /** Carries a delivery on after the answer; its failure to record is logged (the claim then expires and the dispatcher takes over). */
  add(delivery: Promise<unknown>, owner: Pending): void {
    const tracked = delivery
      .catch((error: unknown) => {
        this.logger[isAppError(error) ? "warn" : "error"](
          { err: error, eventId: owner.eventId },
          "delivery after the answer could not be recorded; the dispatcher takes it over when its claim expires",
        );
      })
      .finally(() => this.pending.delete(tracked));
    this.pending.set(tracked, owner);
  }

  /** Resolves once every delivery under way has ended (those added meanwhile too). */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending.keys()]);
  }

  /**
   * Waits up to timeoutMs for the deliveries under way; the claims of those still running are
   * given back as due now (a Svix call that lands afterwards is deduplicated by its idempotency key).
   */
  async drain(timeoutMs: number): Promise<{ finished: number; released: number }> {
    const total = this.pending.size;
    if (total === 0) return { finished: 0, released: 0 };
    await settledWithin(Promise.allSettled([...this.pending.keys()]), timeoutMs);
    const left = [...this.pending.values()];
    const now = new Date(this.clock.now());
    await Promise.all(
      left.map(({ eventId, claimToken }) =>
        this.ledger
          .release([eventId], claimToken, now)
          .catch((error: unknown) =>
            this.logger.warn({ err: error, eventId }, "could not hand back a claim at shutdown; it expires by itself"),
          ),
      ),
    );
    if (left.length > 0) {
      this.logger.warn({ released: left.length }, "deliveries still running at shutdown handed back, due at once");
    }
    return { finished: total - left.length, released: left.length };
  }
}
