import type { Config } from "./config.ts";

/** Pub/Sub's default push acknowledgement deadline: an answer later than this is redelivered anyway. */
export const PUBSUB_ACK_DEADLINE_MS = 10_000;
/** Shorter tokens can be guessed; a token is a password. */
export const MIN_TOKEN_LENGTH = 16;
/** A long token of few characters (aaaaaaaaaaaaaaaa, 0101…) is guessed as easily as a short one. */
export const MIN_TOKEN_DISTINCT_CHARACTERS = 8;

function urlProblem(name: string, value: string | undefined, protocols: string[]): string | undefined {
  if (value === undefined) return undefined;
  let url: URL;
  try {
    // PostgreSQL's socket form (postgresql://user:pw@/db?host=/cloudsql/…) has no host; WHATWG URLs need one.
    url = new URL(protocols[0]!.startsWith("postgres") ? value.replace(/@\//, "@socket/") : value);
  } catch {
    return `${name} is not a URL: ${JSON.stringify(value.slice(0, 100))}`;
  }
  if (!protocols.includes(url.protocol))
    return `${name} must be a ${protocols.map((p) => p.replace(":", "")).join(" or ")} URL`;
  if (!url.hostname) return `${name} has no host: ${JSON.stringify(value.slice(0, 100))}`;
  return undefined;
}

/** The Svix and database URLs, checked as URLs. */
export function urlProblems(urls: { svixServerUrl?: string; databaseUrl?: string }): string[] {
  return [
    urlProblem("SVIX_SERVER_URL", urls.svixServerUrl, ["https:", "http:"]),
    urlProblem("DATABASE_URL", urls.databaseUrl, ["postgres:", "postgresql:"]),
  ].filter((p): p is string => p !== undefined);
}

/**
 * Cross-checks that make a production start fail closed: every problem, each naming the variable
 * to set. Production is any NODE_ENV other than unset, development or test.
 */
export function configProblems(config: Readonly<Config>, env: NodeJS.ProcessEnv): string[] {
  const problems: string[] = [];
  const push = (p: string | undefined) => p && problems.push(p);
  const where = config.production
    ? `when NODE_ENV=${config.nodeEnv} (production: anything but development or test)`
    : "";
  problems.push(...urlProblems(config));
  push(urlProblem("PUBSUB_JWKS_URL", config.pubsubJwksUrl, config.production ? ["https:"] : ["https:", "http:"]));

  if (config.production) {
    if (!config.svixApiKey)
      problems.push(`SVIX_API_KEY is required ${where}: the Svix emulator is for development only`);
    if (env.SVIX_EMULATOR === "true") problems.push(`SVIX_EMULATOR=true is refused ${where}`);
    if (!config.databaseUrl)
      problems.push(
        `DATABASE_URL is required ${where}: the embedded database serves one instance and is not backed up`,
      );
    if (!config.pubsubAudience && config.ingestTokens.length === 0 && config.ingestAuth !== "platform") {
      problems.push(
        `PUBSUB_AUDIENCE or INGEST_TOKENS is required ${where}: without one anyone could post events into any project (set INGEST_AUTH=platform if Cloud Run's IAM alone authenticates pushes)`,
      );
    }
  } else if (!config.svixEmulator && !config.svixApiKey) {
    problems.push(
      "SVIX_API_KEY is required: the in-process Svix emulator starts only with neither SVIX_API_KEY nor DATABASE_URL set, or with SVIX_EMULATOR=true",
    );
  }
  const noCredential =
    config.apiTokens.length === 0 &&
    config.ingestTokens.length === 0 &&
    !config.pubsubAudience &&
    config.ingestAuth !== "platform";
  if (config.production && env.OPEN_API === "true") problems.push(`OPEN_API=true is refused ${where}`);
  if (!config.production && noCredential && !config.openApi) {
    problems.push(
      "No credential is configured while a real Svix key or database is: set INGEST_TOKENS or PUBSUB_AUDIENCE (who may post events) and API_TOKENS (operators), or OPEN_API=true to run an open API on purpose (development only)",
    );
  }
  if (config.svixEmulator && config.svixApiKey)
    problems.push("SVIX_EMULATOR=true and SVIX_API_KEY are both set: say which Svix to use");
  if (config.svixServerUrl && !config.svixApiKey) problems.push("SVIX_SERVER_URL is set without SVIX_API_KEY");

  for (const [name, tokens] of [
    ["API_TOKENS", config.apiTokens],
    ["INGEST_TOKENS", config.ingestTokens],
  ] as const) {
    if (tokens.some((t) => t.length < MIN_TOKEN_LENGTH))
      problems.push(`${name}: every token must be at least ${MIN_TOKEN_LENGTH} characters`);
    if (tokens.some((t) => new Set(t).size < MIN_TOKEN_DISTINCT_CHARACTERS)) {
      problems.push(
        `${name}: every token must have at least ${MIN_TOKEN_DISTINCT_CHARACTERS} different characters (aaaaaaaaaaaaaaaa is a length, not a secret); generate one with: openssl rand -base64 32`,
      );
    }
  }
  if (config.apiTokens.some((t) => config.ingestTokens.includes(t)))
    problems.push("API_TOKENS and INGEST_TOKENS share a token: a token has one scope");
  if (config.ingestAuth === "platform" && (!config.platformAudience || config.platformServiceAccounts.length === 0)) {
    problems.push(
      "INGEST_AUTH=platform needs PLATFORM_AUDIENCE (the audience of the callers' ID tokens, e.g. the service's URL) and PLATFORM_SERVICE_ACCOUNT (who may post): the relay verifies the Google-signed token Cloud Run forwards",
    );
  }
  if (config.pubsubAudience && config.pubsubServiceAccounts.length === 0) {
    problems.push(
      "PUBSUB_SERVICE_ACCOUNT is required with PUBSUB_AUDIENCE: the service account(s) whose tokens may push",
    );
  }
  if (config.auditRetentionDays < config.payloadRetentionDays)
    problems.push(
      `AUDIT_RETENTION_DAYS (${config.auditRetentionDays}) must be at least PAYLOAD_RETENTION_DAYS (${config.payloadRetentionDays}): a notification's row is deleted no sooner than its payload is cleared`,
    );
  if (config.claimTtlMs <= config.requestBudgetMs)
    problems.push(
      "CLAIM_TTL_MS must be longer than REQUEST_BUDGET_MS, or a slow delivery could be taken over while it runs",
    );
  return problems;
}

/** Settings that work but that an operator should know about (logged at start). */
export function configWarnings(config: Readonly<Config>): string[] {
  const warnings: string[] = [];
  if (config.openApi) {
    warnings.push(
      `the API is open: anyone who can reach ${config.host}:${config.port} may post events, read every notification and replay them (no INGEST_TOKENS, PUBSUB_AUDIENCE or API_TOKENS set; development only)`,
    );
  }
  if (config.production && config.apiTokens.length === 0) {
    warnings.push("API_TOKENS is empty: operator routes (lists, replay, quarantine, metrics) are closed to everyone");
  }
  if (config.production && config.ingestAuth === "platform") {
    warnings.push(
      "INGEST_AUTH=platform: events are accepted from anyone the platform lets through; keep the service private (Cloud Run without unauthenticated access)",
    );
  }
  if (config.undeclaredEventTypes === "reject") {
    warnings.push(
      "UNDECLARED_EVENT_TYPES=reject: events of a type not declared in schemas/event-types.json are refused (internal callers 422, Pub/Sub messages quarantined); declare a type before the platform publishes it",
    );
  }
  if (config.inFlightWaitMs + config.requestBudgetMs >= PUBSUB_ACK_DEADLINE_MS) {
    warnings.push(
      "IN_FLIGHT_WAIT_MS + REQUEST_BUDGET_MS reaches Pub/Sub's default 10 s ack deadline: slow answers will be redelivered while still running",
    );
  }
  return warnings;
}
