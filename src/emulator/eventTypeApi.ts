import type { Express, Request, Response } from "express";
import { EVENT_TYPE_NAME, validators } from "./emulatorSchemas.ts";
import type { EmulatedEventType, EmulatorState, StoredResponse } from "./emulatorState.ts";
import type { EmulatorOperation } from "./faults.ts";
import { httpError, validationFailed } from "./responses.ts";

type Route = (
  op: EmulatorOperation,
  handler: (req: Request) => StoredResponse,
) => (req: Request, res: Response) => void;

type EventTypeInput = Parameters<EmulatorState["putEventType"]>[0];

/** EventTypeOut: what Svix answers for an event type. */
function eventTypeOut(eventType: EmulatedEventType): Record<string, unknown> {
  return { ...eventType, featureFlags: null, groupName: null };
}

/**
 * Svix's event-type catalog (`/api/v1/event-type…`): create, list, get and upsert. The name in a
 * path arrives percent-decoded, as Svix reads it.
 */
export function mountEventTypeApi(app: Express, state: EmulatorState, route: Route): void {
  app.post(
    "/api/v1/event-type",
    route("eventType.create", (req) => {
      if (!validators.eventTypeIn(req.body)) return validationFailed(validators.eventTypeIn.errors);
      const body = req.body as EventTypeInput;
      const existing = state.eventTypes.get(body.name);
      // Svix's create unarchives an archived type (without keeping its description and schemas).
      if (existing && !existing.archived) return httpError(409, "conflict", "Event type already exists");
      return { status: 201, body: eventTypeOut(state.putEventType({ ...body, archived: false }).eventType) };
    }),
  );
  app.get(
    "/api/v1/event-type",
    route("eventType.list", (req) => {
      const limit = Math.min(Number(req.query.limit ?? 50) || 50, 250);
      const withContent = req.query.with_content === "true";
      const all = [...state.eventTypes.values()]
        .filter((t) => req.query.include_archived === "true" || !t.archived)
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      const after = typeof req.query.iterator === "string" ? req.query.iterator : undefined;
      const rest = after === undefined ? all : all.filter((t) => t.name > after);
      const page = rest.slice(0, limit);
      return {
        status: 200,
        body: {
          // Without with_content Svix leaves the schemas out.
          data: page.map((t) => eventTypeOut(withContent ? t : { ...t, schemas: null })),
          iterator: page.at(-1)?.name ?? null,
          prevIterator: null,
          done: page.length === rest.length,
        },
      };
    }),
  );
  app.get(
    "/api/v1/event-type/:name",
    route("eventType.get", (req) => {
      const eventType = state.eventTypes.get(String(req.params.name));
      return eventType
        ? { status: 200, body: eventTypeOut(eventType) }
        : httpError(404, "not_found", "Event type not found");
    }),
  );
  app.put(
    "/api/v1/event-type/:name",
    route("eventType.upsert", (req) => {
      const name = String(req.params.name);
      if (!EVENT_TYPE_NAME.test(name)) {
        return {
          status: 422,
          body: {
            detail: [
              { loc: ["path", "event_type_name"], msg: "string does not match pattern", type: "value_error.pattern" },
            ],
          },
        };
      }
      if (!validators.eventTypeUpsertIn(req.body)) return validationFailed(validators.eventTypeUpsertIn.errors);
      const { eventType, created } = state.putEventType({ ...(req.body as Omit<EventTypeInput, "name">), name });
      return { status: created ? 201 : 200, body: eventTypeOut(eventType) };
    }),
  );
}
