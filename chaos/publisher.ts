// Publishes for the whole run, at a steady rate, across many projects and every declared event
// type: valid events (some twice: same id, same body), and a few poison messages (not JSON, an
// event the schema refuses, an id already recorded reused with another body). Remembers what it
// published, which is what the checker compares Svix with.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Topic } from "@google-cloud/pubsub";
import type { PoisonMessage, PublishedEvent } from "./checker.ts";
import { prng } from "./schedule.ts";
import { ROOT } from "./system.ts";

interface Example {
  name: string;
  example: Record<string, unknown> & { data: Record<string, unknown> };
}

const CATALOG = JSON.parse(readFileSync(join(ROOT, "schemas", "event-types.json"), "utf8")) as {
  eventTypes: Example[];
};
/** Projects whose id is not a Svix uid as it is (a space and a slash; Svix's own app id shape) get a digest uid. */
const ODD_PROJECTS = ["Beta Corp/EU", "app_0123456789abcdefghijklmnopq"];
const PROJECTS = [...Array.from({ length: 48 }, (_, i) => `chaos-p${String(i).padStart(2, "0")}`), ...ODD_PROJECTS];
const RECENT_KEPT = 5000;
const MAX_OUTSTANDING = 5000;

export interface PublisherStats {
  /** Messages published (valid, repeated and poison). */
  messages: number;
  unique: number;
  repeats: number;
  poison: number;
  failed: number;
}

export interface PublisherOptions {
  topic: Topic;
  seed: number;
  /** Messages per second. */
  rate: number;
  /** True when the ledger has a row for the event (for the conflicting bodies); false when unsure. */
  isRecorded: (eventId: string) => Promise<boolean>;
}

export class Publisher {
  readonly events = new Map<string, PublishedEvent>();
  readonly poison: PoisonMessage[] = [];
  /** Events whose publishing failed: they may have arrived anyway. */
  readonly uncertain = new Set<string>();
  /** Pub/Sub message id of every message published. */
  readonly messageIds = new Set<string>();
  /** When each message was published (epoch ms), by Pub/Sub message id. */
  readonly publishedAt = new Map<string, number>();
  readonly stats: PublisherStats = { messages: 0, unique: 0, repeats: 0, poison: 0, failed: 0 };
  private readonly random: () => number;
  private readonly runTag = randomBytes(4).toString("hex");
  private readonly recent: Array<{ id: string; body: string; at: number }> = [];
  private outstanding = new Set<Promise<unknown>>();
  private timer: NodeJS.Timeout | undefined;
  private startedAt = 0;
  private sent = 0;
  private serial = 0;
  private conflictPending = false;

  private readonly options: PublisherOptions;

  constructor(options: PublisherOptions) {
    this.options = options;
    this.random = prng(options.seed * 7919 + 1);
  }

  start(): void {
    this.startedAt = Date.now();
    this.timer = setInterval(() => this.tick(), 50);
  }

  /** Stops publishing; resolves when every publish has been answered. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    while (this.outstanding.size > 0) await Promise.allSettled([...this.outstanding]);
  }

  private tick(): void {
    const due = Math.floor(((Date.now() - this.startedAt) / 1000) * this.options.rate);
    while (this.sent < due && this.outstanding.size < MAX_OUTSTANDING) {
      this.sent += 1;
      this.publishOne();
    }
    // Behind by more than a second (Pub/Sub slow): skip rather than burst.
    if (due - this.sent > this.options.rate) this.sent = due - this.options.rate;
  }

  private publishOne(): void {
    const r = this.random();
    if (r < 0.004) return this.publishPoison("invalid_json", `{"chaos": not JSON ${this.runTag}-${this.serial++}`);
    if (r < 0.008) {
      const body = JSON.stringify({ object: "event", id: `evt_poison_${this.runTag}_${this.serial++}`, type: "x" });
      return this.publishPoison("invalid_event", body);
    }
    if (r < 0.01) return void this.publishConflict();
    if (r < 0.04 && this.recent.length > 0) {
      // An earlier event again, same id and body (Pub/Sub's at-least-once publishing, a retrying publisher).
      const old = this.recent[Math.floor(this.random() * this.recent.length)]!;
      this.stats.repeats += 1;
      return this.send(old.body, () => {});
    }
    const event = this.newEvent();
    const body = JSON.stringify(event);
    this.recent.push({ id: event.id as string, body, at: Date.now() });
    if (this.recent.length > RECENT_KEPT) this.recent.shift();
    const published: PublishedEvent = { id: event.id as string, project: event.project as string };
    this.send(body, (ok) => {
      if (ok) {
        this.events.set(published.id, published);
        this.stats.unique = this.events.size;
      } else this.uncertain.add(published.id);
    });
    if (this.random() < 0.02) {
      this.stats.repeats += 1;
      this.send(body, () => {});
    }
  }

  private newEvent(): Record<string, unknown> {
    const type = CATALOG.eventTypes[Math.floor(this.random() * CATALOG.eventTypes.length)]!;
    // Skewed: a few busy projects, a long tail.
    const project = PROJECTS[Math.floor(this.random() ** 2 * PROJECTS.length)]!;
    const n = this.serial++;
    const id = this.random() < 0.01 ? `evt chaos/${this.runTag}/${n}` : `evt_chaos_${this.runTag}_${n}`;
    return {
      ...type.example,
      id,
      project,
      time: new Date().toISOString(),
      data: { ...type.example.data, id: `${String(type.example.data.id).slice(0, 4)}chaos${n}` },
    };
  }

  /** An id the ledger already holds, with another body: must be quarantined, the original kept. */
  private async publishConflict(): Promise<void> {
    if (this.conflictPending) return;
    const old = this.recent.find((e) => Date.now() - e.at > 10_000 && this.events.has(e.id));
    if (!old) return;
    this.conflictPending = true;
    try {
      if (!(await this.options.isRecorded(old.id).catch(() => false))) return;
      const changed = JSON.parse(old.body) as { data: Record<string, unknown> };
      changed.data = { ...changed.data, chaosConflict: this.serial++ };
      this.publishPoison("event_id_conflict", JSON.stringify(changed));
      this.recent.splice(this.recent.indexOf(old), 1); // not repeated after it was contradicted
    } finally {
      this.conflictPending = false;
    }
  }

  private publishPoison(kind: PoisonMessage["kind"], body: string): void {
    this.stats.poison += 1;
    this.send(body, (ok, messageId) => {
      if (ok && messageId) this.poison.push({ messageId, kind });
    });
  }

  private send(body: string, done: (ok: boolean, messageId?: string) => void): void {
    this.stats.messages += 1;
    const publishing = this.options.topic
      .publishMessage({ data: Buffer.from(body) })
      .then(
        (messageId) => {
          this.messageIds.add(messageId);
          this.publishedAt.set(messageId, Date.now());
          done(true, messageId);
        },
        () => {
          this.stats.failed += 1;
          done(false);
        },
      )
      .finally(() => this.outstanding.delete(publishing));
    this.outstanding.add(publishing);
  }
}
