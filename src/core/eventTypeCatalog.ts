import type { Logger } from "pino";
import type { DeclaredEventTypes, EventTypeDeclaration } from "./declaredEventTypes.ts";
import type { EventTypeDefinition, SvixAdmin } from "./ports/svix.ts";

/**
 * A declaration as Svix's catalog holds it: the description, and — when the declaration has a
 * data schema or an example — a JSON Schema of the payload (the event) under version "1", with
 * the example in `examples`, which the app portal shows.
 */
export function svixDefinitionOf(declaration: EventTypeDeclaration): EventTypeDefinition {
  const { name, description, dataSchema, example } = declaration;
  if (!dataSchema && !example) return { name, description, schemas: null };
  return {
    name,
    description,
    schemas: {
      "1": {
        title: name,
        description,
        type: "object",
        properties: { type: { const: name }, data: dataSchema ?? { type: "object" } },
        required: ["type", "data"],
        ...(example ? { examples: [example] } : {}),
      },
    },
  };
}

/**
 * Keeps Svix's event-type catalog — which every customer's app portal shows — in step with the
 * declared types, and with nothing else: the first time this instance delivers an event of a
 * declared type, it makes Svix hold that declaration (created, or updated when Svix holds another
 * description or schema), in the background, never delaying or failing a delivery. An undeclared
 * type is never written to Svix, whoever sends it. Remembered in memory (bounded by the
 * declarations); a restart costs one read per type.
 */
export class EventTypeCatalog {
  private readonly known = new Set<string>();
  private readonly pending = new Map<string, Promise<void>>();
  private readonly svix: SvixAdmin;
  private readonly declared: DeclaredEventTypes;
  private readonly logger: Logger;

  constructor(options: { svix: SvixAdmin; declared: DeclaredEventTypes; logger: Logger }) {
    this.svix = options.svix;
    this.declared = options.declared;
    this.logger = options.logger;
  }

  /** Called for every delivered event; cheap after the first sight of its type. */
  seen(type: string): void {
    if (this.known.has(type) || this.pending.has(type)) return;
    const declaration = this.declared.get(type);
    if (!declaration) return;
    const upsert = this.svix
      .ensureEventType(svixDefinitionOf(declaration))
      .then((change) => {
        this.known.add(type);
        if (change !== "unchanged") this.logger.info({ eventType: type, change }, "event type set in Svix's catalog");
      })
      .catch((error: unknown) =>
        this.logger.warn(
          { err: error, eventType: type },
          "could not set the event type in Svix's catalog; trying again on its next event",
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
