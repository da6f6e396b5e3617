import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config/config.ts";
import { EVENT_TYPE_CATALOG_PATH, loadEventTypeCatalog } from "../../src/config/eventTypeCatalogFile.ts";
import { loadConfig } from "../../src/config/loadConfig.ts";
import { buildContainer } from "../../src/wiring/container.ts";
import { captureLogs } from "../helpers/capturedLogs.ts";

// The event-type catalog (schemas/event-types.json) is checked at every start: the one shipped
// loads and declares what the repository's examples and docs use; a broken one stops the start
// with one line that names the file and what is wrong.

const ROOT = join(import.meta.dirname, "..", "..");
const dir = mkdtempSync(join(tmpdir(), "event-types-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const shipped = JSON.parse(readFileSync(EVENT_TYPE_CATALOG_PATH, "utf8")) as {
  eventTypes: Array<Record<string, unknown>>;
};
const userCreated = shipped.eventTypes.find((t) => t.name === "user.created")!;

let files = 0;
/** A catalog file with these contents (an object is written as JSON, a string as is). */
function catalogFile(contents: unknown): string {
  files += 1;
  const path = join(dir, `catalog-${files}.json`);
  writeFileSync(path, typeof contents === "string" ? contents : JSON.stringify(contents));
  return path;
}

/** The one line a broken catalog stops the start with. */
function refusal(path: string): string {
  try {
    loadEventTypeCatalog(path);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).not.toContain("\n");
    expect(message.startsWith(`${path} is not a valid event-type catalog: `)).toBe(true);
    return message.slice(`${path} is not a valid event-type catalog: `.length);
  }
  throw new Error("expected the catalog to be refused");
}

const entry = (fields: Record<string, unknown>) => ({ eventTypes: [{ ...userCreated, ...fields }] });

describe("the shipped catalog", () => {
  it("loads, and declares every type of examples/events and the user lifecycle the docs name", () => {
    const names = loadEventTypeCatalog().map((t) => t.name);
    const examples = readdirSync(join(ROOT, "examples", "events")).map(
      (f) => (JSON.parse(readFileSync(join(ROOT, "examples", "events", f), "utf8")) as { type: string }).type,
    );
    expect(examples.length).toBeGreaterThan(0);
    for (const type of [...examples, "user.created", "user.updated", "user.deleted"]) expect(names).toContain(type);
  });

  it("gives every type a description, a data schema and an example of its own type", () => {
    for (const type of loadEventTypeCatalog()) {
      expect(type.description.length, type.name).toBeGreaterThan(10);
      expect(type.dataSchema, type.name).toBeDefined();
      expect(type.example?.type, type.name).toBe(type.name);
    }
  });

  it("says in its own description how to add a type", () => {
    expect((shipped as unknown as { description: string }).description).toContain("To add a type");
  });
});

describe("a broken catalog is refused in one line naming the file and the problem", () => {
  it.each([
    ["not JSON", "{ eventTypes: [", /^not JSON \(/],
    ["no eventTypes", {}, /must have required property 'eventTypes'/],
    [
      "an entry without a description",
      { eventTypes: [{ name: "user.created" }] },
      /\/eventTypes\/0 must have required property 'description'/,
    ],
    [
      "an empty description",
      entry({ description: "" }),
      /\/eventTypes\/0\/description must NOT have fewer than 1 characters/,
    ],
    ["a misspelt field", entry({ schema: {} }), /\/eventTypes\/0 has an unknown field "schema"/],
    ["a name with a slash", entry({ name: "user/created" }), /\/eventTypes\/0\/name must match pattern/],
    ["a name of two dots", entry({ name: "..", example: undefined }), /\/eventTypes\/0\/name must not be only dots/],
    ["a name of one dot", entry({ name: ".", example: undefined }), /\/eventTypes\/0\/name must not be only dots/],
    [
      "a name of 257 characters",
      entry({ name: "a".repeat(257), example: undefined }),
      /\/eventTypes\/0\/name must match pattern/,
    ],
    [
      "a name declared twice",
      { eventTypes: [userCreated, { name: "user.created", description: "again" }] },
      /\/eventTypes\/1\/name "user.created" is declared twice/,
    ],
    [
      "a data schema that is not a JSON Schema",
      entry({ dataSchema: { type: "nonsense" } }),
      /\/eventTypes\/0\/dataSchema is not a JSON Schema/,
    ],
    [
      "an example that is not an event",
      entry({ example: { hello: "world" } }),
      /\/eventTypes\/0\/example must have required property 'object'/,
    ],
    [
      "an example of another type",
      entry({ name: "user.updated" }),
      /\/eventTypes\/0\/example\/type must be "user.updated"/,
    ],
    [
      "an example whose data its schema refuses",
      entry({ example: { ...(userCreated.example as object), data: { object: "user" } } }),
      /\/eventTypes\/0\/example\/data must have required property 'id'/,
    ],
  ])("%s", (_what, contents, problem) => {
    expect(refusal(catalogFile(contents))).toMatch(problem);
  });

  it("names a file it cannot read", () => {
    expect(refusal(join(dir, "missing.json"))).toBe("cannot be read (ENOENT)");
  });

  it("lists the first three problems and says how many more there are", () => {
    const broken = { eventTypes: Array.from({ length: 5 }, (_, i) => ({ name: `t${i}/x`, description: "d" })) };
    const message = refusal(catalogFile(broken));
    expect(message.split("; ")).toHaveLength(3);
    expect(message).toMatch(/\(and 2 more\)$/);
  });

  it("stops the relay's start before anything is opened or called", async () => {
    const path = catalogFile(entry({ name: ".." }));
    const config = loadConfig({ DATA_DIR: "memory://", LOG_LEVEL: "silent" });
    const started = buildContainer(config, { eventTypeCatalogPath: path, logDestination: captureLogs().destination });
    await expect(started).rejects.toBeInstanceOf(ConfigError);
    await expect(started).rejects.toThrow(
      /^\/.* is not a valid event-type catalog: \/eventTypes\/0\/name must not be only dots/,
    );
  });
});
