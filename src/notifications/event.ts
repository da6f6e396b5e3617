import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv, type ErrorObject } from "ajv";
import addFormats from "ajv-formats";
import { AppError, type ErrorDetail } from "../errors.ts";

/** A Gigs platform event (schemas/event.schema.json). `data` is passed through untouched. */
export interface PlatformEvent {
  object: "event";
  id: string;
  data: Record<string, unknown>;
  datacontenttype: string;
  project: string;
  source: string;
  specversion: string;
  time: string;
  type: string;
  version: string;
  [extra: string]: unknown;
}

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
    return { path: error.instancePath, message: "must not contain NUL (\\u0000) or unpaired UTF-16 surrogates" };
  }
  if (error.keyword === "const") {
    const allowed = (error.params as { allowedValue: unknown }).allowedValue;
    return { path: error.instancePath || "/", message: `must be ${JSON.stringify(allowed)}` };
  }
  return { path: error.instancePath || "/", message: error.message ?? error.keyword };
}

/** Checks a decoded body against the event schema; throws invalid_event naming every violation. */
export function parseEvent(value: unknown): PlatformEvent {
  if (validate(value)) return value;
  const details = (validate.errors ?? []).map(toDetail);
  throw new AppError("invalid_event", `The event does not match the event schema (${details.length} violation${details.length === 1 ? "" : "s"})`, { details });
}
