import type { Logger } from "pino";
import { AppError } from "../errors.ts";
import type { Metrics } from "../observability/metrics.ts";
import type { PlatformEvent } from "./event.ts";

/** One event type the relay declares (schemas/event-types.json, checked at start). */
export interface EventTypeDeclaration {
  name: string;
  /** What customers read in the app portal. */
  description: string;
  /** A JSON Schema of the event's data. */
  dataSchema?: Record<string, unknown>;
  /** A whole event of this type. */
  example?: Record<string, unknown>;
}

/** What becomes of an event of a type nobody declared (UNDECLARED_EVENT_TYPES). */
export type UndeclaredEventTypePolicy = "deliver" | "reject";

/** Undeclared types logged one by one, per instance: past this, a flood of made-up types costs one more line. */
const LOGGED_TYPES_MAX = 1000;
/** Characters of an undeclared type shown in logs and answers (a type may be 256 characters of anything). */
const SHOWN_CHARACTERS = 64;

/** A caller's type as it may be shown: at most SHOWN_CHARACTERS code points, marked when cut. */
export function shownType(type: string): string {
  const points = [...type];
  return points.length > SHOWN_CHARACTERS ? `${points.slice(0, SHOWN_CHARACTERS).join("")}…` : type;
}

/**
 * The declared event types, and what happens to an event of any other type before anything is
 * recorded: delivered (the platform may publish a type before it is declared) or refused. Either
 * way it is counted, and logged once per type per instance.
 */
export class DeclaredEventTypes {
  private readonly byName: ReadonlyMap<string, EventTypeDeclaration>;
  private readonly policy: UndeclaredEventTypePolicy;
  private readonly logger: Logger;
  private readonly metrics: Metrics;
  private readonly logged = new Set<string>();

  constructor(options: {
    declared: readonly EventTypeDeclaration[];
    undeclared: UndeclaredEventTypePolicy;
    logger: Logger;
    metrics: Metrics;
  }) {
    this.byName = new Map(options.declared.map((d) => [d.name, d]));
    this.policy = options.undeclared;
    this.logger = options.logger;
    this.metrics = options.metrics;
  }

  get(type: string): EventTypeDeclaration | undefined {
    return this.byName.get(type);
  }

  get names(): string[] {
    return [...this.byName.keys()];
  }

  /** Called for every new event before it is recorded; throws undeclared_event_type when policy is reject. */
  admit(event: PlatformEvent): void {
    if (this.byName.has(event.type)) return;
    this.metrics.undeclaredEventTypes.inc({ action: this.policy });
    this.logOnce(event);
    if (this.policy === "reject") {
      throw new AppError(
        "undeclared_event_type",
        `Event type ${JSON.stringify(shownType(event.type))} is not declared in the relay's event-type catalog`,
        { details: [{ path: "/type", message: "must be a declared event type (schemas/event-types.json)" }] },
      );
    }
  }

  private logOnce(event: PlatformEvent): void {
    if (this.logged.has(event.type) || this.logged.size > LOGGED_TYPES_MAX) return;
    if (this.logged.size === LOGGED_TYPES_MAX) {
      this.logged.add(event.type);
      this.logger.warn(
        { undeclaredTypes: LOGGED_TYPES_MAX },
        "more undeclared event types than are logged one by one; relay_undeclared_event_types_total keeps counting",
      );
      return;
    }
    this.logged.add(event.type);
    this.logger.warn(
      { eventType: shownType(event.type), eventId: event.id, action: this.policy },
      this.policy === "reject"
        ? "event type not declared in schemas/event-types.json: refused (logged once per type)"
        : "event type not declared in schemas/event-types.json: delivered, not added to Svix's catalog (logged once per type)",
    );
  }
}
