import { describe, expect, it } from "vitest";
import { settledWithin } from "../../src/core/settledWithin.ts";

describe("settledWithin", () => {
  it("is true when the work resolves or rejects in time, false when the time runs out first", async () => {
    expect(await settledWithin(Promise.resolve("done"), 1000)).toBe(true);
    expect(await settledWithin(Promise.reject(new Error("failed")), 1000)).toBe(true);
    expect(await settledWithin(new Promise(() => undefined), 20)).toBe(false);
    expect(await settledWithin(new Promise((resolve) => setTimeout(resolve, 10)), Number.POSITIVE_INFINITY)).toBe(true);
  });
});
