import type { Logger } from "pino";
import type { SvixAdmin } from "./ports/svix.ts";

/** Svix takes event-type names of [a-zA-Z0-9-_.], at most 256 characters. */
const SVIX_EVENT_TYPE = /^[a-zA-Z0-9\-_.]{1,256}$/;
const KNOWN_MAX = 10_000;

/** "subscription.activated" → "Gigs subscription activated" (what customers see when they subscribe by type). */
export function describeEventType(type: string): string {
  const words = type.split(/[._-]+/).filter(Boolean);
  return `Gigs ${words.join(" ")} event`.slice(0, 256);
}

/**
 * Keeps Svix's event-type catalog in step with the types relayed, so customers can subscribe by
 * type in the app portal: the first time this instance sees a type it upserts it in Svix (409 =
 * already there), in the background, never delaying or failing a delivery. Remembered in memory,
 * bounded; a restart costs one idempotent call per type.
 */
export class EventTypeCatalog {
  private readonly known = new Set<string>();
  private readonly pending = new Map<string, Promise<void>>();
  private readonly svix: SvixAdmin;
  private readonly logger: Logger;

  constructor(options: { svix: SvixAdmin; logger: Logger }) {
    this.svix = options.svix;
    this.logger = options.logger;
  }

  /** Called for every delivered event; cheap after the first sight of its type. */
  seen(type: string): void {
    if (this.known.has(type) || this.pending.has(type) || !SVIX_EVENT_TYPE.test(type)) return;
    const upsert = this.svix
      .ensureEventType({ name: type, description: describeEventType(type) })
      .then(() => {
        if (this.known.size >= KNOWN_MAX) this.known.clear();
        this.known.add(type);
      })
      .catch((error: unknown) =>
        this.logger.warn(
          { err: error, eventType: type },
          "could not add the event type to Svix's catalog; trying again on its next event",
        ),
      )
      .finally(() => this.pending.delete(type));
    this.pending.set(type, upsert);
  }

  /** Waits for the upserts under way (tests, shutdown). */
  async settle(): Promise<void> {
    await Promise.all([...this.pending.values()]);
  }
}
