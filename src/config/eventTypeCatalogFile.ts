import { readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { Ajv, type ErrorObject } from "ajv";
import addFormats from "ajv-formats";
import { ConfigError } from "./config.ts";

const SCHEMAS = join(import.meta.dirname, "..", "..", "schemas");
/** The catalog the relay ships with. */
export const EVENT_TYPE_CATALOG_PATH = join(SCHEMAS, "event-types.json");

/** One declared event type (schemas/event-types.json). */
export interface DeclaredEventType {
  name: string;
  description: string;
  /** A JSON Schema (draft-07) of the event's data. */
  dataSchema?: Record<string, unknown>;
  /** A whole event of this type. */
  example?: Record<string, unknown>;
}

const MAX_PROBLEMS = 3;

function ajvWithFormats(): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: true });
  (addFormats as unknown as (ajv: Ajv) => void)(ajv);
  return ajv;
}

function compileFile(name: string) {
  return ajvWithFormats().compile(JSON.parse(readFileSync(join(SCHEMAS, name), "utf8")));
}

const validateFile = compileFile("event-types.schema.json");
const validateEvent = compileFile("event.schema.json");

/** `ofCatalog`: the errors are the catalog schema's, whose wording can be made plainer. */
function describe(errors: ErrorObject[] | null | undefined, at: string, ofCatalog = false): string[] {
  return (errors ?? []).map((e) => {
    let message = e.message ?? e.keyword;
    // The catalog schema's one `not`: a name of dots only.
    if (ofCatalog && e.keyword === "not") message = "must not be only dots (a dot-segment in a URL path)";
    if (ofCatalog && e.keyword === "additionalProperties")
      message = `has an unknown field ${JSON.stringify((e.params as { additionalProperty: string }).additionalProperty)}`;
    return `${at}${e.instancePath} ${message}`.trim();
  });
}

/** What the schema of the file cannot say: unique names, data schemas that compile, examples that fit. */
function entryProblems(types: DeclaredEventType[]): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  // One Ajv for every dataSchema: each is compiled once, at start.
  const ajv = ajvWithFormats();
  types.forEach((type, index) => {
    const at = `/eventTypes/${index}`;
    if (seen.has(type.name)) problems.push(`${at}/name ${JSON.stringify(type.name)} is declared twice`);
    seen.add(type.name);
    let validateData: ReturnType<Ajv["compile"]> | undefined;
    if (type.dataSchema) {
      try {
        validateData = ajv.compile(type.dataSchema);
      } catch (error) {
        problems.push(`${at}/dataSchema is not a JSON Schema: ${(error as Error).message}`);
      }
    }
    if (!type.example) return;
    if (!validateEvent(type.example)) problems.push(...describe(validateEvent.errors, `${at}/example`));
    else if (type.example.type !== type.name) problems.push(`${at}/example/type must be ${JSON.stringify(type.name)}`);
    if (validateData && !validateData(type.example.data))
      problems.push(...describe(validateData.errors, `${at}/example/data`));
  });
  return problems;
}

/**
 * Reads and checks the event-type catalog. A broken file is a ConfigError whose message is one
 * line naming the file and its first problems: the start stops there.
 */
export function loadEventTypeCatalog(path: string = EVENT_TYPE_CATALOG_PATH): DeclaredEventType[] {
  const fromHere = relative(process.cwd(), path);
  const shown = fromHere && !fromHere.startsWith("..") ? fromHere : path;
  const fail = (problems: string[]): never => {
    const more = problems.length > MAX_PROBLEMS ? ` (and ${problems.length - MAX_PROBLEMS} more)` : "";
    const text = problems.slice(0, MAX_PROBLEMS).join("; ").replace(/\s+/g, " ");
    throw new ConfigError(`${shown} is not a valid event-type catalog: ${text}${more}`);
  };
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return fail([code ? `cannot be read (${code})` : `not JSON (${(error as Error).message})`]);
  }
  if (!validateFile(value)) return fail(describe(validateFile.errors, "", true));
  const types = (value as { eventTypes: DeclaredEventType[] }).eventTypes;
  const problems = entryProblems(types);
  if (problems.length > 0) fail(problems);
  return types;
}
