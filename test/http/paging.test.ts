import { describe, expect, it } from "vitest";
import { boundedPage } from "../../src/http/listQuery.ts";

// A page's byte bound, counted as the answer's JSON: 64 bytes of envelope, then each row's JSON
// and its comma. Rows here show as {"id":"eN"}: 11 bytes, 12 with the comma.
const rows = Array.from({ length: 3 }, (_, i) => ({
  createdAt: new Date(Date.UTC(2026, 9, 1, 0, 0, i)),
  eventId: `e${i}`,
}));
const view = (row: { eventId: string }) => ({ id: row.eventId });
const ids = (page: { data: Array<{ id: string }> }) => page.data.map((r) => r.id);
const cursorOf = (row: { createdAt: Date; eventId: string }) =>
  Buffer.from(JSON.stringify([row.createdAt.toISOString(), row.eventId])).toString("base64url");

describe("boundedPage", () => {
  it("takes rows while they fit exactly, and names the last one taken as the cursor", () => {
    const fitsTwo = boundedPage(rows, 3, view, 64 + 2 * 12);
    expect(ids(fitsTwo)).toEqual(["e0", "e1"]);
    expect(fitsTwo.nextCursor).toBe(cursorOf(rows[1]!));
    const oneByteShort = boundedPage(rows, 3, view, 64 + 2 * 12 - 1);
    expect(ids(oneByteShort)).toEqual(["e0"]);
    expect(oneByteShort.nextCursor).toBe(cursorOf(rows[0]!));
  });

  it("always shows the first row, however large, so paging never stalls", () => {
    const page = boundedPage(rows, 3, view, 10);
    expect(ids(page)).toEqual(["e0"]);
    expect(page.nextCursor).toBe(cursorOf(rows[0]!));
  });

  it("has a cursor exactly when more rows follow", () => {
    expect(boundedPage(rows, 2, view)).toEqual({ data: [{ id: "e0" }, { id: "e1" }], nextCursor: cursorOf(rows[1]!) });
    expect(boundedPage(rows, 3, view)).toEqual({ data: [{ id: "e0" }, { id: "e1" }, { id: "e2" }], nextCursor: null });
  });
});
