import { endpointWants, type EmulatedAttempt, type EmulatedEndpoint } from "./endpointModel.ts";
import { svixId, type EmulatedApp, type EmulatedMessage, type EmulatorState } from "./emulatorState.ts";
import { endpointDisabledEvent, messageAttemptEvent } from "./operationalEvents.ts";
import type { OperationalWebhookSender } from "./operationalWebhooks.ts";
import { postSigned, type PostOutcome } from "./signedPost.ts";
import type { TaskTimers } from "./taskTimers.ts";

export interface DeliveryOptions {
  /**
   * Delay before each attempt, milliseconds; the first entry is the first attempt, so the length
   * is the number of attempts. Svix's own: 0, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
   */
  retryScheduleMs: readonly number[];
  /** Per-attempt timeout, milliseconds (Svix: 15 s). */
  timeoutMs: number;
  /** Messages exhausted in a row after which the endpoint is disabled. */
  disableAfterExhausted: number;
  /** One line per attempt (ids, status; never the payload). */
  log?: (line: string) => void;
}

/** One message on its way to one endpoint. */
interface Delivery {
  appId: string;
  msgId: string;
  endpointId: string;
  /** Attempts made so far. */
  attempts: number;
  /** Whether message.attempt.failing went out, so that a later success is a recovery. */
  failingSent: boolean;
}

/**
 * Delivers each new message to the endpoints of its application that want it, signed like Svix,
 * retrying on `retryScheduleMs`, and reports trouble as Svix's operational webhooks.
 */
export class WebhookDispatcher {
  private readonly state: EmulatorState;
  private readonly operational: OperationalWebhookSender;
  private readonly timers: TaskTimers;
  private readonly options: DeliveryOptions;

  constructor(
    state: EmulatorState,
    operational: OperationalWebhookSender,
    timers: TaskTimers,
    options: DeliveryOptions,
  ) {
    this.state = state;
    this.operational = operational;
    this.timers = timers;
    this.options = options;
  }

  /** Schedules the deliveries; returns at once (the message.create answer never waits for them). */
  dispatch(app: EmulatedApp, message: EmulatedMessage): void {
    for (const ep of this.state.endpointsOf(app.id)) {
      if (!endpointWants(ep, message.eventType, message.channels)) continue;
      this.schedule({ appId: app.id, msgId: message.id, endpointId: ep.id, attempts: 0, failingSent: false });
    }
  }

  /** Manual disable, or the automatic one after too many exhausted messages. */
  disable(app: EmulatedApp, ep: EmulatedEndpoint, trigger: "automatic" | "manual"): void {
    ep.disabled = true;
    ep.updatedAt = new Date().toISOString();
    this.operational.send(endpointDisabledEvent(app, ep, trigger));
  }

  private get attemptCount(): number {
    return Math.max(1, this.options.retryScheduleMs.length);
  }

  private schedule(delivery: Delivery): void {
    this.timers.later(this.options.retryScheduleMs[delivery.attempts] ?? 0, () => void this.attempt(delivery));
  }

  private async attempt(delivery: Delivery): Promise<void> {
    const app = this.state.apps.get(delivery.appId);
    const ep = this.state.findEndpoint(delivery.appId, delivery.endpointId);
    const msg = this.state.messagesOf(delivery.appId).find((m) => m.id === delivery.msgId);
    // Svix stops delivering to an endpoint that was deleted or disabled in the meantime.
    if (!app || !ep || !msg || ep.disabled) return;
    const epoch = this.timers.epoch;
    const timestamp = new Date().toISOString();
    const outcome = await this.timers.track((signal) =>
      postSigned({
        url: ep.url,
        secret: ep.secret,
        msgId: msg.id,
        body: JSON.stringify(msg.payload),
        headers: ep.headers,
        timeoutMs: this.options.timeoutMs,
        signal,
      }),
    );
    if (!this.timers.isCurrent(epoch)) return;
    delivery.attempts += 1;
    const attempt = this.record(ep, msg, outcome, timestamp);
    this.options.log?.(
      `${timestamp} ${msg.id} ${msg.eventType} → ${ep.id} ${outcome.statusCode || outcome.response} (attempt ${delivery.attempts}/${this.attemptCount})`,
    );
    if (outcome.ok) return this.succeeded(app, ep, msg, attempt, delivery);
    this.failed(app, ep, msg, attempt, delivery);
  }

  private record(ep: EmulatedEndpoint, msg: EmulatedMessage, outcome: PostOutcome, timestamp: string): EmulatedAttempt {
    const attempt: EmulatedAttempt = {
      id: svixId("atmpt"),
      msgId: msg.id,
      endpointId: ep.id,
      url: ep.url,
      response: outcome.response,
      responseStatusCode: outcome.statusCode,
      responseDurationMs: outcome.durationMs,
      status: outcome.ok ? 0 : 2,
      statusText: outcome.ok ? "success" : "fail",
      triggerType: 0,
      timestamp,
    };
    this.state.attemptsOf(msg.id).push(attempt);
    return attempt;
  }

  private succeeded(
    app: EmulatedApp,
    ep: EmulatedEndpoint,
    msg: EmulatedMessage,
    attempt: EmulatedAttempt,
    delivery: Delivery,
  ): void {
    ep.exhaustedInARow = 0;
    ep.failSince = null;
    if (delivery.failingSent)
      this.operational.send(messageAttemptEvent("message.attempt.recovered", app, msg, attempt));
  }

  private failed(
    app: EmulatedApp,
    ep: EmulatedEndpoint,
    msg: EmulatedMessage,
    attempt: EmulatedAttempt,
    delivery: Delivery,
  ): void {
    ep.failSince ??= attempt.timestamp;
    if (delivery.attempts < this.attemptCount) {
      // Svix sends "failing" on the fourth failure; with a schedule of a few attempts the
      // emulator sends it on the first, so that a test sees failing → recovered.
      if (!delivery.failingSent) {
        delivery.failingSent = true;
        this.operational.send(messageAttemptEvent("message.attempt.failing", app, msg, attempt));
      }
      return this.schedule(delivery);
    }
    this.operational.send(messageAttemptEvent("message.attempt.exhausted", app, msg, attempt));
    ep.exhaustedInARow += 1;
    if (ep.exhaustedInARow >= this.options.disableAfterExhausted && !ep.disabled) this.disable(app, ep, "automatic");
  }
}
