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

export const IDENTIFIER_RULE = "must not contain NUL (\\u0000) or unpaired UTF-16 surrogates";
/** The schema's rule for id, project and type, for identifiers arriving elsewhere (paths, queries). */
export function isStorableIdentifier(value: string): boolean {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is the one character PostgreSQL text cannot hold
  return value.length > 0 && value.length <= 256 && /^[^\u0000\ud800-\udfff]*$/u.test(value);
}

/**
 * A stored payload the relay can send: an object with an id, a project and a type. A row written
 * by hand or by a bug may hold anything; the dispatcher marks such a row failed and a replay of it
 * is refused.
 */
export function isEventShaped(payload: unknown): payload is PlatformEvent {
  const p = payload as Partial<PlatformEvent> | null;
  return (
    typeof p === "object" &&
    p !== null &&
    typeof p.id === "string" &&
    typeof p.project === "string" &&
    typeof p.type === "string"
  );
}
