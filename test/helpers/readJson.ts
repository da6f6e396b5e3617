import { readJson, type JsonLimits, type JsonReadResult } from "../../src/ingest/strictJson.ts";

/** Limits no test document reaches unless it means to. */
const ROOMY: JsonLimits = { maxDepth: 64, maxValues: 100_000 };

export function read(text: string, limits: JsonLimits = ROOMY): JsonReadResult {
  return readJson(text, limits);
}

/** The refusal of `text` (a test fails if it is accepted). */
export function failure(text: string, limits: JsonLimits = ROOMY) {
  const result = read(text, limits);
  if (result.ok) throw new Error(`expected ${JSON.stringify(text.slice(0, 80))} to be refused`);
  return result;
}
