import type { ErrorObject } from "ajv";
import { validationDetail } from "./emulatorSchemas.ts";
import type { StoredResponse } from "./emulatorState.ts";

/** Svix's HttpErrorOut: `{ code, detail }`. */
export const httpError = (status: number, code: string, detail: string): StoredResponse => ({
  status,
  body: { code, detail },
});

/** Svix's 422 HTTPValidationError: `{ detail: [{ loc, msg, type }] }`. */
export const validationFailed = (errors: ErrorObject[] | null | undefined): StoredResponse => ({
  status: 422,
  body: { detail: validationDetail(errors) },
});

/** 422 for one field the JSON schema cannot check (e.g. a uid taken by another endpoint). */
export const fieldInvalid = (field: string, msg: string): StoredResponse => ({
  status: 422,
  body: { detail: [{ loc: ["body", field], msg, type: "value_error" }] },
});

export const appNotFound = (): StoredResponse => httpError(404, "not_found", "Application not found");

/** ListResponse_*: Svix's cursor page, newest first unless `order=ascending`. */
export function listPage<T extends { id: string }>(all: readonly T[], query: Record<string, unknown>): StoredResponse {
  const limit = Math.min(Number(query.limit ?? 50) || 50, 250);
  const ordered = query.order === "ascending" ? [...all] : [...all].reverse();
  const start = typeof query.iterator === "string" ? ordered.findIndex((x) => x.id === query.iterator) + 1 : 0;
  const data = ordered.slice(start, start + limit);
  return {
    status: 200,
    body: { data, iterator: data.at(-1)?.id ?? null, prevIterator: null, done: start + limit >= ordered.length },
  };
}
