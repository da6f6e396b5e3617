import { describe, expect, it } from "vitest";
import { createMetrics, NOTIFICATION_OUTCOMES } from "./metrics.ts";

describe("createMetrics", () => {
  it("starts every outcome of relay_notifications_total at 0, so rate() sees the first failure after a start", async () => {
    const text = await createMetrics().registry.getSingleMetricAsString("relay_notifications_total");
    for (const outcome of NOTIFICATION_OUTCOMES)
      expect(text).toContain(`relay_notifications_total{outcome="${outcome}"} 0`);
    expect(NOTIFICATION_OUTCOMES).toEqual(expect.arrayContaining(["failed", "rejected", "delivered", "queued"]));
  });
});
