import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv, type ErrorObject } from "ajv";
import addFormats from "ajv-formats";
import { jsonDepth } from "../core/canonicalJson.ts";
import { IDENTIFIER_RULE, type PlatformEvent } from "../core/event.ts";
import { AppError, type ErrorDetail } from "../errors.ts";

// Checks a decoded body against the platform's event contract (schemas/event.schema.json, which
// follows the platform's own): what reaches the core is a PlatformEvent, or nothing.

const schemaPath = join(import.meta.dirname, "..", "..", "schemas", "event.schema.json");
const ajv = new Ajv({ allErrors: true, strict: true });
(addFormats as unknown as (ajv: Ajv) => void)(ajv);
const validate = ajv.compile<PlatformEvent>(JSON.parse(readFileSync(schemaPath, "utf8")));

function toDetail(error: ErrorObject): ErrorDetail {
  if (error.keyword === "required") {
    const missing = (error.params as { missingProperty: string }).missingProperty;
    return { path: `${error.instancePath}/${missing}`, message: `is required` };
  }
  if (error.keyword === "pattern") {
    // The schema's only pattern: identifiers PostgreSQL can store exactly.
    return { path: error.instancePath, message: IDENTIFIER_RULE };
  }
  if (error.keyword === "const") {
    const allowed = (error.params as { allowedValue: unknown }).allowedValue;
    return { path: error.instancePath || "/", message: `must be ${JSON.stringify(allowed)}` };
  }
  return { path: error.instancePath || "/", message: error.message ?? error.keyword };
}

/**
 * How deeply an event may nest. Far beyond any API resource, and it keeps the work done on an
 * event (comparison, storage, Svix) bounded: a body of a few kilobytes could otherwise nest
 * thousands of levels.
 */
export const MAX_EVENT_DEPTH = 64;

/** Checks a decoded body against the event schema; throws invalid_event naming every violation. */
export function parseEvent(value: unknown): PlatformEvent {
  if (jsonDepth(value, MAX_EVENT_DEPTH) > MAX_EVENT_DEPTH) {
    throw new AppError("invalid_event", `The event nests deeper than ${MAX_EVENT_DEPTH} levels`, {
      details: [{ path: "/", message: `must not nest deeper than ${MAX_EVENT_DEPTH} levels` }],
    });
  }
  if (validate(value)) return value;
  const details = (validate.errors ?? []).map(toDetail);
  throw new AppError(
    "invalid_event",
    `The event does not match the event schema (${details.length} violation${details.length === 1 ? "" : "s"})`,
    { details },
  );
}
