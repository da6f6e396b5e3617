/**
 * JSON with object keys sorted: two parsed bodies are the same event exactly when their
 * canonical forms are equal, whatever their key order (and -0 and 0, or 1e400 and null, compare
 * as the ledger stores them: as JSON). Callers bound the depth first (jsonDepth).
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? "null" : canonicalJson(v))).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.keys(value)
      .sort()
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
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
