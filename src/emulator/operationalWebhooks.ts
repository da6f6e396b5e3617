import { svixId } from "./emulatorState.ts";
import type { OperationalEvent } from "./operationalEvents.ts";
import { postSigned } from "./signedPost.ts";
import type { TaskTimers } from "./taskTimers.ts";

/** Where Svix's operational webhooks go: one URL and its `whsec_` secret. */
export interface OperationalWebhookConfig {
  url: string;
  /** `whsec_` + base64 key (24 to 75 bytes). */
  secret: string;
}

/** What became of one operational webhook (the event body is not kept: it names customers). */
export interface OperationalDelivery {
  /** The svix-id it was sent with. */
  id: string;
  type: OperationalEvent["type"];
  status: "sending" | "delivered" | "dropped";
  attempts: number;
  /** Of the last attempt; 0 when no HTTP answer came. */
  lastStatusCode: number;
}

export interface OperationalWebhookOptions {
  /** Delay before each attempt, milliseconds; the first entry is the first attempt. */
  retryScheduleMs: readonly number[];
  /** Per-attempt timeout, milliseconds. */
  timeoutMs: number;
  log?: (line: string) => void;
}

const SECRET = /^whsec_[A-Za-z0-9+/=]{32,100}$/;
/** How many outcomes `deliveries` keeps, newest last. */
const KEEP = 200;

/** Why a config is unusable, or undefined when it is fine. */
export function operationalConfigProblem(config: unknown): string | undefined {
  const c = config as Partial<OperationalWebhookConfig> | null;
  if (!c || typeof c !== "object" || typeof c.url !== "string" || typeof c.secret !== "string")
    return "send {url, secret} (or null to turn operational webhooks off)";
  if (!/^https?:\/\//.test(c.url) || !URL.canParse(c.url)) return "url must be an http(s) URL";
  if (!SECRET.test(c.secret)) return "secret must be whsec_ followed by base64 (32 to 100 characters)";
  return undefined;
}

/**
 * Svix's operational webhooks for the emulated account: each event is POSTed, signed like any
 * Svix webhook with a fresh msg_ id, to the one configured URL; a failed POST is retried on a
 * short schedule and then dropped.
 */
export class OperationalWebhookSender {
  readonly deliveries: OperationalDelivery[] = [];
  private config: OperationalWebhookConfig | null = null;

  private readonly timers: TaskTimers;
  private readonly options: OperationalWebhookOptions;

  constructor(timers: TaskTimers, options: OperationalWebhookOptions) {
    this.timers = timers;
    this.options = options;
  }

  /** Null turns them off; a delivery already under way keeps the config it started with. */
  configure(config: OperationalWebhookConfig | null): void {
    const problem = config === null ? undefined : operationalConfigProblem(config);
    if (problem) throw new Error(`operational webhook: ${problem}`);
    this.config = config && { url: config.url, secret: config.secret };
  }

  /** The configured URL (the secret is never handed out). */
  get url(): string | null {
    return this.config?.url ?? null;
  }

  send(event: OperationalEvent): void {
    const config = this.config;
    if (!config) return;
    const delivery: OperationalDelivery = {
      id: svixId("msg"),
      type: event.type,
      status: "sending",
      attempts: 0,
      lastStatusCode: 0,
    };
    this.deliveries.push(delivery);
    if (this.deliveries.length > KEEP) this.deliveries.splice(0, this.deliveries.length - KEEP);
    this.attempt(config, delivery, JSON.stringify(event));
  }

  clear(): void {
    this.deliveries.length = 0;
  }

  private attempt(config: OperationalWebhookConfig, delivery: OperationalDelivery, body: string): void {
    const delay = this.options.retryScheduleMs[delivery.attempts] ?? 0;
    this.timers.later(delay, () => {
      const epoch = this.timers.epoch;
      void this.timers
        .track((signal) =>
          postSigned({
            url: config.url,
            secret: config.secret,
            msgId: delivery.id,
            body,
            timeoutMs: this.options.timeoutMs,
            signal,
          }),
        )
        .then((outcome) => {
          if (!this.timers.isCurrent(epoch)) return;
          delivery.attempts += 1;
          delivery.lastStatusCode = outcome.statusCode;
          const more = delivery.attempts < Math.max(1, this.options.retryScheduleMs.length);
          delivery.status = outcome.ok ? "delivered" : more ? "sending" : "dropped";
          this.options.log?.(
            `operational ${delivery.type} ${delivery.id} → ${outcome.statusCode || outcome.response} (${delivery.status}, attempt ${delivery.attempts})`,
          );
          if (delivery.status === "sending") this.attempt(config, delivery, body);
        });
    });
  }
}
