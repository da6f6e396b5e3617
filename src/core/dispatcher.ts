import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { isAppError } from "../errors.ts";
import type { Metrics } from "../observability/metrics.ts";
import { isEventShaped, type PlatformEvent } from "./event.ts";
import type { NotificationService } from "./notificationService.ts";
import type { Clock } from "./ports/clock.ts";
import type { NotificationLedger, NotificationRecord } from "./ports/ledger.ts";
import type { SvixGateway } from "./ports/svix.ts";
import { settledWithin } from "./settledWithin.ts";

/** A pace slot (or a free place for a Svix call) further away than this is not waited for: the row goes back to the queue. */
const PACE_WAIT_MAX_MS = 2000;
/** How long the loop waits on a probe before it asks the circuit whether another may go. */
const PROBE_WAIT_MS = 100;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface DispatcherOptions {
  service: NotificationService;
  ledger: NotificationLedger;
  svix: Pick<SvixGateway, "blockedMs" | "probing" | "recoveredAt" | "saturated" | "whenRoom" | "reserveCall">;
  logger: Logger;
  metrics: Metrics;
  clock: Clock;
  /** Pause between passes that found nothing to do (jittered), ms. */
  intervalMs: number;
  /** Notifications claimed per pass. */
  batchSize: number;
  /** Deliveries one instance's dispatcher keeps in flight. */
  concurrency: number;
  /** How long the dispatcher's claim on a notification lasts, ms. */
  claimTtlMs: number;
}

/**
 * Delivers what the ledger holds and Svix has not taken yet: queued notifications (Svix was
 * failing, throttling, or this instance had to wait) and received ones whose owner died. Runs on
 * every instance; each notification is claimed by a conditional update, so exactly one instance
 * sends it. Oldest first. It shares the fast path's Svix guards: it sleeps through a Retry-After
 * window or an open circuit, sends one notification as the circuit's probe, and once Svix answers
 * again it takes every queued notification at once, whatever its backoff.
 */
export class Dispatcher {
  private readonly options: DispatcherOptions;
  /** Set by stop(): a pass gives back what it has not sent yet. */
  private stopping = false;
  private loop: Promise<void> | undefined;
  /** Workers waiting for a place for a Svix call: stop() ends their wait. */
  private readonly roomWaits = new Set<() => void>();
  /** Probe passes still waiting for their (hung) call while the loop went on. */
  private readonly probes = new Set<Promise<unknown>>();
  /** Rows claimed by passes under way and not settled yet (sent, failed or given back): event id → claim token. */
  private readonly held = new Map<string, string>();
  private wakeUp: (() => void) | undefined;
  /** wake() came while no pause was running (during a pass): the next pause is skipped. */
  private woken = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(options: DispatcherOptions) {
    this.options = options;
  }

  start(): void {
    if (this.loop) return;
    this.stopping = false;
    this.loop = this.run();
  }

  /**
   * Stops claiming; a pass in progress finishes its deliveries in flight and gives back the rest.
   * Waits at most timeoutMs (what the shutdown has left): the claims of rows still held then
   * (a Svix call that hangs, a slot still awaited) are given back, due at once, so that another
   * instance sends them now rather than when the claims expire; a call that lands afterwards is
   * deduplicated by its idempotency key. The pass then ends by itself; start() does nothing
   * until it has.
   */
  async stop(timeoutMs = Number.POSITIVE_INFINITY): Promise<void> {
    this.stopping = true;
    for (const giveUp of this.roomWaits) giveUp();
    this.wake();
    const running = Promise.all([this.loop, ...this.probes]);
    if (await settledWithin(running, timeoutMs)) {
      this.loop = undefined;
      return;
    }
    void running.then(() => {
      if (this.stopping) this.loop = undefined;
    });
    await this.handBack();
  }

  /** Gives back, due at once, the claims of every row a pass under way still holds. */
  private async handBack(): Promise<void> {
    if (this.held.size === 0) return;
    const byClaim = new Map<string, string[]>();
    for (const [eventId, token] of this.held) byClaim.set(token, [...(byClaim.get(token) ?? []), eventId]);
    const now = new Date(this.options.clock.now());
    await Promise.all(
      [...byClaim].map(([token, eventIds]) =>
        this.options.ledger.release(eventIds, token, now).catch((error: unknown) => {
          this.options.logger.warn(
            { err: error, eventIds },
            "could not hand back claims at shutdown; they expire by themselves",
          );
        }),
      ),
    );
    this.options.logger.warn(
      { released: this.held.size },
      "dispatcher deliveries still running when the shutdown's time ran out handed back, due at once",
    );
  }

  /** Ends the current pause at once (Svix came back, something was queued). */
  wake(): void {
    this.woken = true;
    clearTimeout(this.timer);
    this.wakeUp?.();
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      let pauseMs = this.options.intervalMs * (0.75 + Math.random() / 2);
      this.woken = false;
      try {
        const wait = this.options.svix.blockedMs();
        if (wait > 0) pauseMs = wait;
        else if (this.options.svix.probing()) pauseMs = await this.probe();
        else if ((await this.pass()).claimed >= this.options.batchSize) pauseMs = 0;
      } catch (error) {
        this.options.logger.warn({ err: error }, "dispatcher pass failed");
      }
      // Woken during the pass (Svix came back, a row became due): the pause is skipped, unless
      // Svix still says wait.
      if (this.woken && !this.stopping) pauseMs = Math.min(pauseMs, this.options.svix.blockedMs());
      if (pauseMs > 0 && !this.stopping) await this.pause(pauseMs);
    }
  }

  /**
   * The circuit lets a probe through: one notification goes as the probe. The loop does not wait
   * for a probe that hangs: the circuit says when another may go (blockedMs), and the first answer
   * decides. Returns the pause before the next turn: none once the probe has gone (the circuit
   * decides the wait), the usual interval when nothing was due.
   */
  private async probe(): Promise<number> {
    const pass = this.pass();
    const settled = await Promise.race([pass, sleep(PROBE_WAIT_MS).then(() => undefined)]);
    if (settled) return settled.claimed === 0 ? this.options.intervalMs : 0;
    const running = pass.catch(() => undefined).finally(() => this.probes.delete(running));
    this.probes.add(running);
    return 0;
  }

  private pause(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      this.wakeUp = () => resolve();
      this.timer = setTimeout(resolve, ms);
      this.timer.unref();
    }).finally(() => {
      this.wakeUp = undefined;
    });
  }

  /** One pass: claims due notifications, oldest first, and delivers them. */
  async pass(): Promise<{ claimed: number; delivered: number }> {
    const { ledger, svix, clock } = this.options;
    if (svix.blockedMs() > 0) return { claimed: 0, delivered: 0 };
    const now = clock.now();
    const claim = { token: randomUUID(), expiresAt: new Date(now + this.options.claimTtlMs) };
    const recoveredAt = svix.recoveredAt();
    // While the circuit is half-open only one call may go: the probe.
    const limit = svix.probing() ? 1 : this.options.batchSize;
    const rows = await ledger.claimDue(
      new Date(now),
      limit,
      claim,
      recoveredAt > 0 ? new Date(recoveredAt) : undefined,
    );
    for (const row of rows) this.held.set(row.eventId, claim.token);
    try {
      return await this.deliverClaimed(rows, claim.token);
    } finally {
      for (const row of rows) if (this.held.get(row.eventId) === claim.token) this.held.delete(row.eventId);
    }
  }

  /** Delivers the rows a pass claimed with claimToken, with up to `concurrency` calls at once. */
  private async deliverClaimed(
    rows: NotificationRecord[],
    claimToken: string,
  ): Promise<{ claimed: number; delivered: number }> {
    const { ledger, svix, clock } = this.options;
    const left: string[] = [];
    let delivered = 0;
    let next = 0;
    // Shutdown, or Svix asked every call to wait: what is not sent yet goes back untouched.
    const holdBack = () => this.stopping || svix.blockedMs() > 0;
    const worker = async () => {
      while (next < rows.length) {
        const row = rows[next++] as NotificationRecord;
        if (!isEventShaped(row.payload)) {
          await this.failUnsendable(row, claimToken);
          this.held.delete(row.eventId);
          continue;
        }
        // Every place for a Svix call is taken (the fast path shares them): wait for one rather
        // than make a call the gateway would shed, and give the row back if none comes soon.
        if (!holdBack() && svix.saturated() && !(await this.roomWithin(PACE_WAIT_MAX_MS))) {
          left.push(row.eventId);
          continue;
        }
        if (holdBack()) {
          left.push(row.eventId);
          continue;
        }
        // Paced (Svix's rate limit learned from its 429s): book the next slot and wait for it,
        // rather than give the row back and claim it again a moment later. A slot too far away
        // is not booked: the row goes back, and the pace owes nothing for it.
        const wait = svix.reserveCall(PACE_WAIT_MAX_MS);
        if (wait === undefined) {
          left.push(row.eventId);
          continue;
        }
        if (wait > 0) {
          await sleep(wait);
          // Up to PACE_WAIT_MAX_MS later: the instance may be stopping, or Svix may have said wait.
          if (holdBack()) {
            left.push(row.eventId);
            continue;
          }
        }
        if (await this.deliverOne({ ...row, payload: row.payload }, claimToken)) delivered += 1;
        this.held.delete(row.eventId);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.options.concurrency, rows.length) }, worker));
    // Claimed but not sent (Svix asked to wait, or shutdown): back to the queue, untouched.
    if (left.length > 0) await ledger.release(left, claimToken, new Date(clock.now() + svix.blockedMs()));
    return { claimed: rows.length, delivered };
  }

  /** Waits up to maxMs for a free place for a Svix call; false when none came (or the instance is stopping). */
  private async roomWithin(maxMs: number): Promise<boolean> {
    if (this.stopping) return false;
    return new Promise<boolean>((resolve) => {
      const done = (room: boolean) => {
        this.roomWaits.delete(giveUp);
        resolve(room && !this.stopping);
      };
      const giveUp = () => done(false);
      this.roomWaits.add(giveUp);
      void this.options.svix.whenRoom(maxMs).then(done);
    });
  }

  private async failUnsendable(row: NotificationRecord, claimToken: string): Promise<void> {
    try {
      await this.options.service.failUnsendable(row, claimToken);
      this.options.metrics.dispatch.inc({ outcome: "failed" });
    } catch (error) {
      this.options.metrics.dispatch.inc({ outcome: isAppError(error) ? error.code : "internal" });
    }
  }

  private async deliverOne(row: NotificationRecord & { payload: PlatformEvent }, claimToken: string): Promise<boolean> {
    try {
      const outcome = await this.options.service.dispatch(row, claimToken, { reserved: true });
      this.options.metrics.dispatch.inc({ outcome: outcome.status });
      return outcome.status === "delivered";
    } catch (error) {
      // The ledger failed to record the outcome: the claim expires and a later pass retries.
      this.options.metrics.dispatch.inc({ outcome: isAppError(error) ? error.code : "internal" });
      if (!isAppError(error))
        this.options.logger.error({ err: error, eventId: row.eventId }, "dispatch failed unexpectedly");
      return false;
    }
  }
}
