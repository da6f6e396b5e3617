/**
 * JSON with object keys sorted: two parsed bodies are the same event exactly when their
 * canonical forms are equal, whatever their key order (and -0 and 0, or 1e400 and null, compare
 * as the ledger stores them: as JSON). Callers bound the depth first (jsonDepth).
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) {
    // An array of scalars is written as JSON.stringify writes it (undefined as null): natively.
    if (value.every(isScalar)) return JSON.stringify(value);
    return `[${value.map((v) => (v === undefined ? "null" : canonicalJson(v))).join(",")}]`;
  }
  if (value !== null && typeof value === "object") {
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record);
    // Keys already in order and only scalars (a plan's 250 { countryCode } entries): JSON.stringify
    // writes exactly the canonical form, natively (measured: 35 % off a 5.9 KB event's digest).
    if (inOrderWithScalars(record, keys)) return JSON.stringify(record);
    const entries = keys
      .sort()
      .filter((k) => record[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(record[k])}`);
    return `{${entries.join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

const isScalar = (v: unknown): boolean => v === null || typeof v !== "object";

/** Keys in sort() order (integer-like keys, which objects list first, fail it) and every value a defined scalar. */
function inOrderWithScalars(record: Record<string, unknown>, keys: string[]): boolean {
  for (let i = 0; i < keys.length; i += 1) {
    const v = record[keys[i] as string];
    if (v === undefined || !isScalar(v) || (i > 0 && (keys[i - 1] as string) >= (keys[i] as string))) return false;
  }
  return true;
}

/** Nesting depth of a parsed JSON value (a scalar is 0), computed without recursion. */
export function jsonDepth(value: unknown, stopAbove = Number.POSITIVE_INFINITY): number {
  let max = 0;
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (current === null || typeof current !== "object") continue;
    const level = depth + 1;
    if (level > max) max = level;
    if (max > stopAbove) return max;
    for (const child of Object.values(current)) stack.push([child, level]);
  }
  return max;
}
