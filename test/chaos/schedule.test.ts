import { describe, expect, it } from "vitest";
import { buildSchedule, describeFault, isDatabaseFault, prng, SVIX_FAULTS } from "../../chaos/schedule.ts";

describe("the chaos schedule", () => {
  it("is the same for the same seed, and another for another seed", () => {
    const a = buildSchedule({ seed: 11, seconds: 90, svixFaults: true });
    const b = buildSchedule({ seed: 11, seconds: 90, svixFaults: true });
    const c = buildSchedule({ seed: 12, seconds: 90, svixFaults: true });
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
  });

  it.each([1, 7, 11, 42, 2026, 99_999])("seed %i: every required fault kind, inside the run's first 70 %%", (seed) => {
    for (const seconds of [60, 90, 600]) {
      const faults = buildSchedule({ seed, seconds, svixFaults: true });
      const kinds = new Set(faults.map((f) => f.kind));
      for (const kind of ["relayKill", "workerKill", "databaseStop", ...SVIX_FAULTS]) expect(kinds).toContain(kind);
      for (const f of faults) {
        expect(f.atMs).toBeGreaterThanOrEqual(2000);
        expect(f.atMs).toBeLessThanOrEqual(seconds * 700 + 5000);
      }
      expect(faults.map((f) => f.atMs)).toEqual([...faults.map((f) => f.atMs)].sort((x, y) => x - y));
    }
  });

  it("without our emulator: no Svix faults, the process and database ones still", () => {
    const faults = buildSchedule({ seed: 11, seconds: 90, svixFaults: false });
    expect(faults.filter((f) => f.kind.startsWith("svix"))).toEqual([]);
    expect(faults.map((f) => f.kind)).toEqual(expect.arrayContaining(["relayKill", "workerKill", "databaseStop"]));
  });

  it("never overlaps two database interruptions", () => {
    for (let seed = 0; seed < 200; seed++) {
      const db = buildSchedule({ seed, seconds: 300, svixFaults: true }).filter((f) => isDatabaseFault(f.kind));
      for (let i = 1; i < db.length; i++)
        expect(db[i]!.atMs).toBeGreaterThanOrEqual(db[i - 1]!.atMs + db[i - 1]!.downMs!);
    }
  });

  it("kills both relays over enough seeds, and says what each fault does", () => {
    const targets = new Set<number | undefined>();
    for (let seed = 0; seed < 20; seed++)
      for (const f of buildSchedule({ seed, seconds: 90, svixFaults: true }))
        if (f.kind === "relayKill") targets.add(f.target);
    expect(targets).toEqual(new Set([0, 1]));
    const lines = buildSchedule({ seed: 3, seconds: 60, svixFaults: true }).map(describeFault);
    expect(lines.some((l) => /kill -9 relay [01], restarted after \d+ ms/.test(l))).toBe(true);
    expect(lines.some((l) => /429 \(Retry-After: [12]\)/.test(l))).toBe(true);
  });

  it("draws from a seeded PRNG in [0, 1)", () => {
    const r = prng(5);
    const values = Array.from({ length: 1000 }, r);
    expect(values.every((v) => v >= 0 && v < 1)).toBe(true);
    expect(new Set(values).size).toBeGreaterThan(990);
    expect(Array.from({ length: 5 }, prng(5))).toEqual(values.slice(0, 5));
  });
});
