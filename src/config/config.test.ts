import { describe, expect, it } from "vitest";
import { ConfigError } from "./config.ts";
import { configWarnings } from "./configRules.ts";
import { loadConfig, loadJobConfig } from "./loadConfig.ts";

const PLATFORM = {
  INGEST_AUTH: "platform",
  PLATFORM_AUDIENCE: "https://relay.example.com",
  PLATFORM_SERVICE_ACCOUNT: "orders@p.iam.gserviceaccount.com",
};

const CREDENTIAL = { INGEST_TOKENS: "ingest-token-0123456789" };

const PROD = {
  NODE_ENV: "production",
  SVIX_API_KEY: "sk_live_abc",
  DATABASE_URL: "postgresql://relay@db.internal:5432/relay",
  INGEST_TOKENS: "ingest-token-0123456789",
};

function refusal(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error("expected the configuration to be refused");
}

function problems(env: Record<string, string>): string {
  return refusal(env).message;
}

describe("loadConfig", () => {
  it("has defaults that start with no configuration at all: development, embedded database, in-process emulator", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      production: false,
      port: 3000,
      databaseUrl: undefined,
      dataDir: "./data",
      svixApiKey: undefined,
      svixEmulator: true,
      dispatchEnabled: true,
      apiTokens: [],
    });
    expect(config.bodyLimitBytes).toBeGreaterThan(Math.ceil((1024 * 1024 * 4) / 3));
    expect(config.requestBudgetMs).toBeLessThan(10_000);
    expect(config.shutdownTimeoutMs).toBeLessThan(10_000);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it("coerces numbers and booleans and splits tokens", () => {
    const config = loadConfig({
      PORT: "8080",
      DISPATCH_ENABLED: "false",
      API_TOKENS: "operator-token-000001, operator-token-000002,,",
      INGEST_TOKENS: "ingest-token-00000001",
    });
    expect(config).toMatchObject({
      port: 8080,
      dispatchEnabled: false,
      apiTokens: ["operator-token-000001", "operator-token-000002"],
      ingestTokens: ["ingest-token-00000001"],
    });
  });

  it("accepts a complete production configuration", () => {
    expect(loadConfig(PROD)).toMatchObject({ production: true, svixEmulator: false });
    expect(
      loadConfig({
        ...PROD,
        INGEST_TOKENS: "",
        PUBSUB_AUDIENCE: "https://relay.example.com/notifications",
        PUBSUB_SERVICE_ACCOUNT: "push@p.iam.gserviceaccount.com",
      }).pubsubAudience,
    ).toBeDefined();
    expect(loadConfig({ ...PROD, INGEST_TOKENS: "", ...PLATFORM }).ingestAuth).toBe("platform");
  });

  it("treats any NODE_ENV but development and test as production, spelled exactly", () => {
    for (const nodeEnv of ["production", "Production", "prod", "staging", "Development"]) {
      expect(problems({ NODE_ENV: nodeEnv })).toContain(`DATABASE_URL is required when NODE_ENV=${nodeEnv}`);
    }
    expect(loadConfig({ NODE_ENV: "test" }).production).toBe(false);
  });

  it("never starts the emulator where a real database is configured, or in production: a missing Svix key is named", () => {
    // staging with a production database and no Svix key: the event would be "delivered" to a fake.
    expect(problems({ ...PROD, NODE_ENV: "staging", SVIX_API_KEY: "" })).toMatch(
      /SVIX_API_KEY is required when NODE_ENV=staging/,
    );
    expect(problems({ DATABASE_URL: "postgresql://localhost/relay" })).toMatch(/SVIX_API_KEY is required/);
    expect(problems({ ...PROD, SVIX_EMULATOR: "true" })).toMatch(/SVIX_EMULATOR=true is refused/);
    expect(
      loadConfig({ DATABASE_URL: "postgresql://localhost/relay", SVIX_EMULATOR: "true", OPEN_API: "true" })
        .svixEmulator,
    ).toBe(true);
  });

  it("opens the API only on the zero-configuration start or with OPEN_API=true, on loopback unless HOST says otherwise", () => {
    const zero = loadConfig({});
    expect({ openApi: zero.openApi, host: zero.host }).toEqual({ openApi: true, host: "127.0.0.1" });
    expect(configWarnings(zero)).toEqual([
      expect.stringMatching(/^the API is open: anyone who can reach 127\.0\.0\.1:3000/),
    ]);
    expect(loadConfig({ HOST: "0.0.0.0" })).toMatchObject({ openApi: true, host: "0.0.0.0" });
    const real = { SVIX_API_KEY: "sk_live", DATABASE_URL: "postgresql://localhost/relay" };
    expect(problems(real)).toMatch(
      /No credential is configured .*set INGEST_TOKENS or PUBSUB_AUDIENCE .* and API_TOKENS .*, or OPEN_API=true/,
    );
    expect(problems({ SVIX_API_KEY: "sk_live" })).toMatch(/No credential is configured/);
    expect(problems({ DATABASE_URL: "postgresql://localhost/relay", SVIX_EMULATOR: "true" })).toMatch(
      /No credential is configured/,
    );
    expect(loadConfig({ ...real, OPEN_API: "true" })).toMatchObject({ openApi: true, host: "127.0.0.1" });
  });

  it("refuses tokens of fewer than 8 different characters, and platform ingest without its audience and accounts", () => {
    expect(problems({ INGEST_TOKENS: "aaaaaaaaaaaaaaaa" })).toMatch(
      /INGEST_TOKENS: every token must have at least 8 different characters/,
    );
    expect(problems({ API_TOKENS: "0101010101010101abc" })).toMatch(/API_TOKENS: every token must have at least 8/);
    expect(loadConfig({ API_TOKENS: "abcdefgh12345678" }).apiTokens).toEqual(["abcdefgh12345678"]);
    expect(problems({ INGEST_AUTH: "platform" })).toMatch(
      /INGEST_AUTH=platform needs PLATFORM_AUDIENCE .* and PLATFORM_SERVICE_ACCOUNT/,
    );
    expect(
      loadConfig({
        INGEST_AUTH: "platform",
        PLATFORM_AUDIENCE: "https://relay.example.com",
        PLATFORM_SERVICE_ACCOUNT: "a@p.iam.gserviceaccount.com, b@p.iam.gserviceaccount.com",
      }).platformServiceAccounts,
    ).toEqual(["a@p.iam.gserviceaccount.com", "b@p.iam.gserviceaccount.com"]);
  });

  it("never opens the API where a credential is configured, or in production", () => {
    for (const credential of [
      { INGEST_TOKENS: "ingest-token-0123456789" },
      { API_TOKENS: "operator-token-0123456" },
      { ...PLATFORM },
    ]) {
      expect(loadConfig({ ...credential, OPEN_API: "true" }), JSON.stringify(credential)).toMatchObject({
        openApi: false,
        host: "0.0.0.0",
      });
    }
    expect(problems({ ...PROD, OPEN_API: "true" })).toMatch(/OPEN_API=true is refused when NODE_ENV=production/);
    expect(loadConfig(PROD).openApi).toBe(false);
  });

  it("refuses production without an ingest credential, naming both ways to give one", () => {
    expect(problems({ ...PROD, INGEST_TOKENS: "" })).toMatch(
      /PUBSUB_AUDIENCE or INGEST_TOKENS is required .*INGEST_AUTH=platform/,
    );
    expect(problems({ ...PROD, PUBSUB_AUDIENCE: "https://relay.example.com" })).toMatch(
      /PUBSUB_SERVICE_ACCOUNT is required with PUBSUB_AUDIENCE/,
    );
  });

  it("validates URLs as URLs", () => {
    expect(problems({ SVIX_API_KEY: "k", SVIX_SERVER_URL: "http://" })).toMatch(/SVIX_SERVER_URL is not a URL/);
    expect(problems({ SVIX_API_KEY: "k", SVIX_SERVER_URL: "ftp://svix.example.com" })).toMatch(
      /SVIX_SERVER_URL must be a https or http URL/,
    );
    expect(problems({ ...PROD, DATABASE_URL: "mysql://x/y" })).toMatch(
      /DATABASE_URL must be a postgres or postgresql URL/,
    );
    expect(problems({ ...PROD, PUBSUB_JWKS_URL: "http://keys.example.com" })).toMatch(
      /PUBSUB_JWKS_URL must be a https URL/,
    );
    expect(
      loadConfig({ ...PROD, DATABASE_URL: "postgresql://relay:pw@/relay?host=/cloudsql/p:r:i" }).databaseUrl,
    ).toContain("/cloudsql/");
  });

  it("refuses short tokens and a token given two scopes", () => {
    expect(problems({ API_TOKENS: "short" })).toMatch(/API_TOKENS: every token must be at least 16 characters/);
    expect(problems({ INGEST_TOKENS: "0123456789abcdef,tiny" })).toMatch(/INGEST_TOKENS: every token/);
    expect(problems({ API_TOKENS: "same-token-0123456789", INGEST_TOKENS: "same-token-0123456789" })).toMatch(
      /share a token/,
    );
  });

  it("lists every invalid value at once, each named by its variable, with the URL problems", () => {
    const message = problems({
      PORT: "70000",
      SVIX_TIMEOUT_MS: "fast",
      LOG_LEVEL: "loud",
      SVIX_API_KEY: "k",
      SVIX_SERVER_URL: "ftp://svix.example.com",
    });
    expect(message).toBe(
      [
        "Invalid configuration:",
        "PORT must be <= 65535",
        "LOG_LEVEL must be equal to one of the allowed values",
        "SVIX_TIMEOUT_MS must be integer",
        "SVIX_SERVER_URL must be a https or http URL",
      ].join("\n  - "),
    );
  });

  it("lists every problem of a production start at once, as a ConfigError", () => {
    expect(String(refusal({ NODE_ENV: "production" }))).toBe(
      [
        "ConfigError: Invalid configuration:",
        "SVIX_API_KEY is required when NODE_ENV=production (production: anything but development or test): the Svix emulator is for development only",
        "DATABASE_URL is required when NODE_ENV=production (production: anything but development or test): the embedded database serves one instance and is not backed up",
        "PUBSUB_AUDIENCE or INGEST_TOKENS is required when NODE_ENV=production (production: anything but development or test): without one anyone could post events into any project (set INGEST_AUTH=platform if Cloud Run's IAM alone authenticates pushes)",
      ].join("\n  - "),
    );
  });

  it("treats an empty variable as unset", () => {
    expect(
      loadConfig({ NODE_ENV: "", PORT: "", SVIX_API_KEY: "", DATABASE_URL: "", API_TOKENS: "", REDRIVE_ENABLED: "" }),
    ).toMatchObject({
      production: false,
      port: 3000,
      svixApiKey: undefined,
      databaseUrl: undefined,
      svixEmulator: true,
      apiTokens: [],
    });
  });

  it("names every renamed variable with its new name instead of ignoring it", () => {
    expect(problems({ REDRIVE_ENABLED: "false", REDRIVE_BASE_DELAY_MS: "5000" })).toBe(
      "Invalid configuration:\n  - REDRIVE_ENABLED was renamed to DISPATCH_ENABLED\n  - REDRIVE_BASE_DELAY_MS was renamed to RETRY_BASE_DELAY_MS",
    );
  });

  it("refuses a claim that could expire while its delivery still runs, a claim as long as the budget included", () => {
    expect(problems({ CLAIM_TTL_MS: "5000", REQUEST_BUDGET_MS: "8000" })).toMatch(/CLAIM_TTL_MS must be longer/);
    expect(problems({ CLAIM_TTL_MS: "8000", REQUEST_BUDGET_MS: "8000" })).toBe(
      "Invalid configuration:\n  - CLAIM_TTL_MS must be longer than REQUEST_BUDGET_MS, or a slow delivery could be taken over while it runs",
    );
    expect(loadConfig({ CLAIM_TTL_MS: "8001", REQUEST_BUDGET_MS: "8000" }).claimTtlMs).toBe(8001);
  });

  it("keeps audit rows 90 days and personal data 30 by default, and never audit rows shorter than personal data", () => {
    expect(loadConfig({})).toMatchObject({ payloadRetentionDays: 30, auditRetentionDays: 90, purgeBatchSize: 1000 });
    expect(problems({ PAYLOAD_RETENTION_DAYS: "60", AUDIT_RETENTION_DAYS: "59" })).toBe(
      "Invalid configuration:\n  - AUDIT_RETENTION_DAYS (59) must be at least PAYLOAD_RETENTION_DAYS (60): a notification's row is deleted no sooner than its payload is cleared",
    );
    expect(loadConfig({ PAYLOAD_RETENTION_DAYS: "60", AUDIT_RETENTION_DAYS: "60" }).auditRetentionDays).toBe(60);
    // Pub/Sub can replay a message up to 31 days old: the row is what recognises it as a duplicate.
    expect(problems({ AUDIT_RETENTION_DAYS: "30" })).toMatch(/AUDIT_RETENTION_DAYS must be >= 31/);
    expect(loadConfig({ AUDIT_RETENTION_DAYS: "31" }).auditRetentionDays).toBe(31);
    expect(problems({ PURGE_BATCH_SIZE: "0" })).toMatch(/PURGE_BATCH_SIZE must be >= 1/);
  });

  it("accepts a token of exactly 16 characters", () => {
    expect(loadConfig({ API_TOKENS: "operator-tok-016", INGEST_TOKENS: "ingest-token-016" })).toMatchObject({
      apiTokens: ["operator-tok-016"],
      ingestTokens: ["ingest-token-016"],
    });
    expect(problems({ API_TOKENS: "operator-tok-15" })).toBe(
      "Invalid configuration:\n  - API_TOKENS: every token must be at least 16 characters",
    );
  });

  it("refuses an ambiguous choice of Svix: the emulator asked for with a key, or a server URL without a key", () => {
    expect(problems({ SVIX_EMULATOR: "true", SVIX_API_KEY: "sk_test_abc", OPEN_API: "true" })).toBe(
      "Invalid configuration:\n  - SVIX_EMULATOR=true and SVIX_API_KEY are both set: say which Svix to use",
    );
    expect(problems({ SVIX_SERVER_URL: "https://svix.example.com" })).toBe(
      "Invalid configuration:\n  - SVIX_SERVER_URL is set without SVIX_API_KEY",
    );
  });

  it("names the URL problem: not a URL (quoting at most 100 characters), no host", () => {
    expect(problems({ SVIX_API_KEY: "k", OPEN_API: "true", SVIX_SERVER_URL: "https://user@/svix" })).toBe(
      'Invalid configuration:\n  - SVIX_SERVER_URL is not a URL: "https://user@/svix"',
    );
    const long = `not a url ${"x".repeat(200)}`;
    expect(problems({ SVIX_API_KEY: "k", OPEN_API: "true", SVIX_SERVER_URL: long })).toBe(
      `Invalid configuration:\n  - SVIX_SERVER_URL is not a URL: "${long.slice(0, 100)}"`,
    );
    expect(problems({ SVIX_API_KEY: "k", OPEN_API: "true", DATABASE_URL: "postgresql:///relay" })).toBe(
      'Invalid configuration:\n  - DATABASE_URL has no host: "postgresql:///relay"',
    );
    const noHost = `postgresql:///${"r".repeat(200)}`;
    expect(problems({ SVIX_API_KEY: "k", OPEN_API: "true", DATABASE_URL: noHost })).toBe(
      `Invalid configuration:\n  - DATABASE_URL has no host: "${noHost.slice(0, 100)}"`,
    );
  });

  it("accepts an http JWKS URL outside production (a local emulator of Google's keys)", () => {
    expect(loadConfig({ PUBSUB_JWKS_URL: "http://localhost:8085/certs" }).pubsubJwksUrl).toBe(
      "http://localhost:8085/certs",
    );
  });
});

describe("loadJobConfig", () => {
  it("delivers events of undeclared types unless UNDECLARED_EVENT_TYPES=reject, and refuses any other value", () => {
    expect(loadConfig({}).undeclaredEventTypes).toBe("deliver");
    expect(loadConfig({ UNDECLARED_EVENT_TYPES: "reject" }).undeclaredEventTypes).toBe("reject");
    expect(loadConfig({ UNDECLARED_EVENT_TYPES: "deliver" }).undeclaredEventTypes).toBe("deliver");
    expect(problems({ UNDECLARED_EVENT_TYPES: "drop" })).toContain(
      "UNDECLARED_EVENT_TYPES must be equal to one of the allowed values",
    );
  });

  it("needs only the database, and takes MIGRATE_DATABASE_URL for migrations", () => {
    const env = {
      NODE_ENV: "production",
      DATABASE_URL: "postgresql://app@db/relay",
      MIGRATE_DATABASE_URL: "postgresql://owner@db/relay",
    };
    expect(loadJobConfig(env).databaseUrl).toBe("postgresql://app@db/relay");
    expect(loadJobConfig(env, { migrate: true }).databaseUrl).toBe("postgresql://owner@db/relay");
  });

  it("takes the retention settings, under the same rules as the relay", () => {
    expect(
      loadJobConfig({ PAYLOAD_RETENTION_DAYS: "7", AUDIT_RETENTION_DAYS: "40", PURGE_BATCH_SIZE: "50" }),
    ).toMatchObject({ payloadRetentionDays: 7, auditRetentionDays: 40, purgeBatchSize: 50 });
    expect(() => loadJobConfig({ PAYLOAD_RETENTION_DAYS: "100", AUDIT_RETENTION_DAYS: "90" })).toThrow(
      /AUDIT_RETENTION_DAYS \(90\) must be at least PAYLOAD_RETENTION_DAYS \(100\)/,
    );
  });
});

describe("configWarnings", () => {
  it("warns about closed operator routes, platform-only ingest, and answers later than Pub/Sub's ack deadline", () => {
    expect(configWarnings(loadConfig({ INGEST_TOKENS: "ingest-token-0123456789" }))).toEqual([]);
    expect(configWarnings(loadConfig(PROD))).toEqual([expect.stringContaining("API_TOKENS is empty")]);
    expect(
      configWarnings(loadConfig({ ...PROD, INGEST_TOKENS: "", ...PLATFORM, API_TOKENS: "operator-token-000001" })),
    ).toEqual([expect.stringContaining("INGEST_AUTH=platform")]);
    const slow = configWarnings(
      loadConfig({ ...CREDENTIAL, REQUEST_BUDGET_MS: "9500", IN_FLIGHT_WAIT_MS: "1000", CLAIM_TTL_MS: "30000" }),
    );
    expect(slow).toEqual([expect.stringContaining("ack deadline")]);
  });

  it("warns that UNDECLARED_EVENT_TYPES=reject refuses events of undeclared types", () => {
    expect(configWarnings(loadConfig({ ...CREDENTIAL, UNDECLARED_EVENT_TYPES: "reject" }))).toEqual([
      expect.stringMatching(
        /^UNDECLARED_EVENT_TYPES=reject: events of a type not declared in schemas\/event-types\.json are refused/,
      ),
    ]);
  });

  it("warns from exactly 10 s of IN_FLIGHT_WAIT_MS + REQUEST_BUDGET_MS", () => {
    expect(configWarnings(loadConfig({ ...CREDENTIAL, REQUEST_BUDGET_MS: "9000", IN_FLIGHT_WAIT_MS: "1000" }))).toEqual(
      [
        "IN_FLIGHT_WAIT_MS + REQUEST_BUDGET_MS reaches Pub/Sub's default 10 s ack deadline: slow answers will be redelivered while still running",
      ],
    );
    expect(configWarnings(loadConfig({ ...CREDENTIAL, REQUEST_BUDGET_MS: "8999", IN_FLIGHT_WAIT_MS: "1000" }))).toEqual(
      [],
    );
  });
});
