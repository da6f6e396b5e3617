import { describe, expect, it } from "vitest";
import { ConfigError, configWarnings, loadConfig } from "./config.ts";

describe("loadConfig", () => {
  it("has defaults that start with no configuration at all", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ port: 3000, databaseUrl: undefined, dataDir: "./data", svixApiKey: undefined, dispatchEnabled: true, apiTokens: [] });
    expect(config.bodyLimitBytes).toBeGreaterThan(Math.ceil((1024 * 1024 * 4) / 3));
    expect(config.requestBudgetMs).toBeLessThan(10_000);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it("coerces numbers and booleans and splits tokens", () => {
    const config = loadConfig({ PORT: "8080", DISPATCH_ENABLED: "false", API_TOKENS: "a, b,,c" });
    expect(config).toMatchObject({ port: 8080, dispatchEnabled: false, apiTokens: ["a", "b", "c"] });
  });

  it("refuses production without Svix and PostgreSQL", () => {
    expect(() => loadConfig({ NODE_ENV: "production" })).toThrow(/SVIX_API_KEY is required[\s\S]*DATABASE_URL is required/);
    expect(() => loadConfig({ NODE_ENV: "production", SVIX_API_KEY: "k", DATABASE_URL: "postgresql://db/relay" })).not.toThrow();
  });

  it("lists every invalid value at once", () => {
    try {
      loadConfig({ PORT: "70000", SVIX_TIMEOUT_MS: "fast", SVIX_SERVER_URL: "ftp://x" });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const message = (error as Error).message;
      expect(message).toMatch(/PORT must be <= 65535/);
      expect(message).toMatch(/SVIX_TIMEOUT_MS must be integer/);
      expect(message).toMatch(/SVIX_SERVER_URL must match pattern/);
    }
  });

  it("names a renamed variable instead of ignoring it", () => {
    expect(() => loadConfig({ REDRIVE_BASE_DELAY_MS: "5000" })).toThrow(/REDRIVE_BASE_DELAY_MS was renamed to RETRY_BASE_DELAY_MS/);
  });

  it("refuses a claim that could expire while its delivery still runs", () => {
    expect(() => loadConfig({ CLAIM_TTL_MS: "5000", REQUEST_BUDGET_MS: "8000" })).toThrow(/CLAIM_TTL_MS must be longer/);
  });
});

describe("configWarnings", () => {
  it("warns about an open API in production and about answers later than Pub/Sub's ack deadline", () => {
    expect(configWarnings(loadConfig({}))).toEqual([]);
    const open = configWarnings(loadConfig({ NODE_ENV: "production", SVIX_API_KEY: "k", DATABASE_URL: "postgresql://db/x" }));
    expect(open).toEqual([expect.stringContaining("API_TOKENS is empty")]);
    const slow = configWarnings(loadConfig({ REQUEST_BUDGET_MS: "9500", IN_FLIGHT_WAIT_MS: "1000", CLAIM_TTL_MS: "30000" }));
    expect(slow).toEqual([expect.stringContaining("ack deadline")]);
  });
});
