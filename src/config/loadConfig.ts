import { Ajv } from "ajv";
import { type Config, ConfigError, type JobConfig } from "./config.ts";
import { configProblems, urlProblems } from "./configRules.ts";

/** NODE_ENV values that are not production; anything else (Production, prod, staging) is. */
const NON_PRODUCTION: ReadonlySet<string> = new Set(["development", "test"]);

const int = (def: number, min = 0, max = 2_147_483_647) => ({
  type: "integer",
  minimum: min,
  maximum: max,
  default: def,
});

const schema = {
  type: "object",
  properties: {
    NODE_ENV: { type: "string", default: "development" },
    PORT: int(3000, 0, 65535),
    HOST: { type: "string", minLength: 1 },
    OPEN_API: { type: "boolean", default: false },
    GOOGLE_CLOUD_PROJECT: { type: "string", pattern: "^[a-z][a-z0-9-]{4,28}[a-z0-9]$" },
    LOG_LEVEL: { enum: ["fatal", "error", "warn", "info", "debug", "trace", "silent"], default: "info" },
    DATABASE_URL: { type: "string" },
    DATA_DIR: { type: "string", minLength: 1, default: "./data" },
    DATABASE_POOL_MAX: int(10, 1, 1000),
    SVIX_API_KEY: { type: "string", minLength: 1 },
    SVIX_SERVER_URL: { type: "string" },
    SVIX_EMULATOR: { type: "boolean", default: false },
    SVIX_TIMEOUT_MS: int(3000, 100, 60_000),
    REQUEST_BUDGET_MS: int(7000, 100, 600_000),
    SVIX_MAX_RETRIES: int(2, 0, 10),
    SVIX_MAX_IN_FLIGHT: int(256, 1, 10_000),
    CIRCUIT_FAILURE_THRESHOLD: int(5, 1, 1000),
    // One probe a second while Svix is down: Svix answering again is noticed within about a second.
    CIRCUIT_COOLDOWN_MS: int(1000, 100, 600_000),
    // Svix's 1 MiB payload, base64-encoded in a Pub/Sub envelope, with room for its metadata.
    BODY_LIMIT_BYTES: int(1536 * 1024, 1024, 64 * 1024 * 1024),
    CLAIM_TTL_MS: int(30_000, 1000, 3_600_000),
    IN_FLIGHT_WAIT_MS: int(1000, 0, 60_000),
    DISPATCH_ENABLED: { type: "boolean", default: true },
    DISPATCH_INTERVAL_MS: int(1000, 50, 3_600_000),
    DISPATCH_BATCH_SIZE: int(512, 1, 1000),
    // As many as Svix calls may be in flight (SVIX_MAX_IN_FLIGHT): a backlog drains at the rate Svix allows.
    DISPATCH_CONCURRENCY: int(256, 1, 10_000),
    RETRY_BASE_DELAY_MS: int(1000, 10, 3_600_000),
    RETRY_MAX_DELAY_MS: int(600_000, 100, 86_400_000),
    RETRY_HORIZON_HOURS: int(72, 1, 24 * 365),
    EVENT_MAX_VALUES: int(20_000, 100, 10_000_000),
    // Twice SVIX_MAX_IN_FLIGHT: an internal caller past the Svix bound is queued at once (202)
    // instead of shed at admission (measured in the overload scenario: at 256, equal to the Svix
    // bound, 420 events/s accepted and 92,000 shed; at 512, 3,700/s and 15,000).
    INGEST_MAX_IN_FLIGHT: int(512, 1, 100_000),
    LARGE_BODY_BYTES: int(256 * 1024, 1024, 64 * 1024 * 1024),
    LARGE_BODY_CONCURRENCY: int(4, 1, 1000),
    PUBSUB_SUBSCRIPTION: { type: "string", pattern: "^projects/[^/]+/subscriptions/[^/]+$", maxLength: 255 },
    PULL_MAX_MESSAGES: int(32, 1, 10_000),
    PULL_MAX_BYTES: int(64 * 1024 * 1024, 1024 * 1024, 1024 * 1024 * 1024),
    API_TOKENS: { type: "string", default: "" },
    INGEST_TOKENS: { type: "string", default: "" },
    PUBSUB_AUDIENCE: { type: "string", minLength: 1, maxLength: 2048 },
    PUBSUB_SERVICE_ACCOUNT: { type: "string", default: "" },
    PUBSUB_JWKS_URL: { type: "string", default: "https://www.googleapis.com/oauth2/v3/certs" },
    INGEST_AUTH: { enum: ["tokens", "platform"], default: "tokens" },
    PLATFORM_AUDIENCE: { type: "string", minLength: 1, maxLength: 2048 },
    PLATFORM_SERVICE_ACCOUNT: { type: "string", default: "" },
    TRUST_PROXY_HOPS: int(0, 0, 10),
    PAYLOAD_RETENTION_DAYS: int(30, 1, 3650),
    // At least 31: Pub/Sub can redeliver (or replay by seek) a message up to 31 days old, and the
    // notification's row is what recognises it as a duplicate.
    AUDIT_RETENTION_DAYS: int(90, 31, 36_500),
    PURGE_INTERVAL_MS: int(3_600_000, 1000, 86_400_000),
    PURGE_BATCH_SIZE: int(1000, 1, 100_000),
    READINESS_CACHE_MS: int(2000, 0, 60_000),
    MIGRATE_ON_START: { type: "boolean", default: true },
    SVIX_WEBHOOK_SECRET: { type: "string", pattern: "^whsec_[A-Za-z0-9+/=]{16,}$" },
    EVENT_TYPE_CATALOG: { type: "boolean", default: true },
    UNDECLARED_EVENT_TYPES: { enum: ["deliver", "reject"], default: "deliver" },
    // Below Cloud Run's 10 s between SIGTERM and SIGKILL.
    SHUTDOWN_TIMEOUT_MS: int(8000, 0, 600_000),
    SVIX_EMULATOR_PORT: int(0, 0, 65535),
  },
} as const;

const ajv = new Ajv({ allErrors: true, coerceTypes: true, useDefaults: true, strict: false });
const validate = ajv.compile(schema);

/**
 * Settings of the database jobs. `npm run db:migrate` takes MIGRATE_DATABASE_URL when set, so
 * migrations can run with a role the serving relay does not have.
 */
export function loadJobConfig(env: NodeJS.ProcessEnv = process.env, options: { migrate?: boolean } = {}): JobConfig {
  const url = (options.migrate ? env.MIGRATE_DATABASE_URL : undefined) || env.DATABASE_URL || undefined;
  const full = loadConfig({
    NODE_ENV: "development",
    DATABASE_URL: url,
    DATA_DIR: env.DATA_DIR,
    PAYLOAD_RETENTION_DAYS: env.PAYLOAD_RETENTION_DAYS,
    AUDIT_RETENTION_DAYS: env.AUDIT_RETENTION_DAYS,
    PURGE_INTERVAL_MS: env.PURGE_INTERVAL_MS,
    PURGE_BATCH_SIZE: env.PURGE_BATCH_SIZE,
    SVIX_EMULATOR: "true",
    // A job serves nothing: no credential to ask for.
    OPEN_API: "true",
  });
  return {
    databaseUrl: full.databaseUrl,
    dataDir: full.dataDir,
    payloadRetentionDays: full.payloadRetentionDays,
    auditRetentionDays: full.auditRetentionDays,
    purgeIntervalMs: full.purgeIntervalMs,
    purgeBatchSize: full.purgeBatchSize,
  };
}

/** Variables that were renamed: a deployment still setting them is told, not silently ignored. */
const RENAMED: Record<string, string> = {
  REDRIVE_ENABLED: "DISPATCH_ENABLED",
  REDRIVE_INTERVAL_MS: "DISPATCH_INTERVAL_MS",
  REDRIVE_BATCH_SIZE: "DISPATCH_BATCH_SIZE",
  REDRIVE_BASE_DELAY_MS: "RETRY_BASE_DELAY_MS",
  REDRIVE_MAX_DELAY_MS: "RETRY_MAX_DELAY_MS",
};

/** Validates the environment; throws ConfigError listing every problem. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  const renamed = Object.keys(RENAMED).filter((k) => env[k] !== undefined && env[k] !== "");
  if (renamed.length > 0) {
    throw new ConfigError(
      `Invalid configuration:\n  - ${renamed.map((k) => `${k} was renamed to ${RENAMED[k]}`).join("\n  - ")}`,
    );
  }
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(schema.properties)) {
    const value = env[key];
    if (value !== undefined && value !== "") raw[key] = value;
  }
  if (!validate(raw)) {
    const problems = (validate.errors ?? []).map((e) => `${e.instancePath.slice(1) || "environment"} ${e.message}`);
    // The URL checks need no other setting: report them with the rest, all at once.
    const given = raw as { DATABASE_URL?: string; SVIX_SERVER_URL?: string };
    problems.push(...urlProblems({ databaseUrl: given.DATABASE_URL, svixServerUrl: given.SVIX_SERVER_URL }));
    throw new ConfigError(`Invalid configuration:\n  - ${problems.join("\n  - ")}`);
  }
  const v = raw as unknown as Record<keyof typeof schema.properties, never>;
  const list = (value: string) =>
    value
      .split(",")
      .map((t) => t.trim())
      .filter(Boolean);
  const nodeEnv: string = v.NODE_ENV;
  const production = !NON_PRODUCTION.has(nodeEnv);
  const config: Config = {
    nodeEnv,
    production,
    port: v.PORT,
    // Decided below, once it is known whether the API is open.
    host: v.HOST ?? "0.0.0.0",
    openApi: false,
    googleCloudProject: v.GOOGLE_CLOUD_PROJECT,
    logLevel: v.LOG_LEVEL,
    databaseUrl: v.DATABASE_URL,
    dataDir: v.DATA_DIR,
    databasePoolMax: v.DATABASE_POOL_MAX,
    svixApiKey: v.SVIX_API_KEY,
    svixServerUrl: v.SVIX_SERVER_URL,
    // The zero-configuration start (nothing says where the real Svix or database is), or asked for.
    svixEmulator: !production && (v.SVIX_EMULATOR || (!v.SVIX_API_KEY && !v.DATABASE_URL)),
    svixTimeoutMs: v.SVIX_TIMEOUT_MS,
    requestBudgetMs: v.REQUEST_BUDGET_MS,
    svixMaxRetries: v.SVIX_MAX_RETRIES,
    svixMaxInFlight: v.SVIX_MAX_IN_FLIGHT,
    circuitFailureThreshold: v.CIRCUIT_FAILURE_THRESHOLD,
    circuitCooldownMs: v.CIRCUIT_COOLDOWN_MS,
    bodyLimitBytes: v.BODY_LIMIT_BYTES,
    claimTtlMs: v.CLAIM_TTL_MS,
    inFlightWaitMs: v.IN_FLIGHT_WAIT_MS,
    dispatchEnabled: v.DISPATCH_ENABLED,
    dispatchIntervalMs: v.DISPATCH_INTERVAL_MS,
    dispatchBatchSize: v.DISPATCH_BATCH_SIZE,
    dispatchConcurrency: v.DISPATCH_CONCURRENCY,
    retryBaseDelayMs: v.RETRY_BASE_DELAY_MS,
    retryMaxDelayMs: v.RETRY_MAX_DELAY_MS,
    retryHorizonMs: (v.RETRY_HORIZON_HOURS as number) * 3_600_000,
    eventMaxValues: v.EVENT_MAX_VALUES,
    ingestMaxInFlight: v.INGEST_MAX_IN_FLIGHT,
    largeBodyBytes: v.LARGE_BODY_BYTES,
    largeBodyConcurrency: v.LARGE_BODY_CONCURRENCY,
    pubsubSubscription: v.PUBSUB_SUBSCRIPTION,
    pullMaxMessages: v.PULL_MAX_MESSAGES,
    pullMaxBytes: v.PULL_MAX_BYTES,
    apiTokens: list(v.API_TOKENS),
    ingestTokens: list(v.INGEST_TOKENS),
    pubsubAudience: v.PUBSUB_AUDIENCE,
    pubsubServiceAccounts: list(v.PUBSUB_SERVICE_ACCOUNT),
    pubsubJwksUrl: v.PUBSUB_JWKS_URL,
    ingestAuth: v.INGEST_AUTH,
    platformAudience: v.PLATFORM_AUDIENCE,
    platformServiceAccounts: list(v.PLATFORM_SERVICE_ACCOUNT),
    trustProxyHops: v.TRUST_PROXY_HOPS,
    payloadRetentionDays: v.PAYLOAD_RETENTION_DAYS,
    auditRetentionDays: v.AUDIT_RETENTION_DAYS,
    purgeIntervalMs: v.PURGE_INTERVAL_MS,
    purgeBatchSize: v.PURGE_BATCH_SIZE,
    readinessCacheMs: v.READINESS_CACHE_MS,
    migrateOnStart: v.MIGRATE_ON_START,
    svixWebhookSecret: v.SVIX_WEBHOOK_SECRET,
    eventTypeCatalog: v.EVENT_TYPE_CATALOG,
    undeclaredEventTypes: v.UNDECLARED_EVENT_TYPES,
    shutdownTimeoutMs: v.SHUTDOWN_TIMEOUT_MS,
    svixEmulatorPort: v.SVIX_EMULATOR_PORT,
  };
  const noCredential =
    config.apiTokens.length === 0 &&
    config.ingestTokens.length === 0 &&
    !config.pubsubAudience &&
    config.ingestAuth !== "platform";
  const zeroConfiguration = !config.svixApiKey && !config.databaseUrl;
  config.openApi = noCredential && !production && (zeroConfiguration || v.OPEN_API === true);
  // An open API listens on this machine only, unless HOST says otherwise.
  if (config.openApi && v.HOST === undefined) config.host = "127.0.0.1";
  const problems = configProblems(config, env);
  if (problems.length > 0) throw new ConfigError(`Invalid configuration:\n  - ${problems.join("\n  - ")}`);
  return Object.freeze(config);
}
