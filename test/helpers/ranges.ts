import { expect } from "vitest";

/** values[i] must lie in ranges[i] (inclusive): e.g. jittered exponential delays. */
export function expectEachBetween(values: number[], ranges: Array<[number, number]>): void {
  expect(values).toHaveLength(ranges.length);
  values.forEach((value, i) => {
    const [min, max] = ranges[i]!;
    expect(value, `value ${i}`).toBeGreaterThanOrEqual(min);
    expect(value, `value ${i}`).toBeLessThanOrEqual(max);
  });
}
