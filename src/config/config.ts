/** The relay's configuration, read from the environment once at start (see .env.example). */
export interface Config {
  nodeEnv: string;
  /** Any NODE_ENV other than unset, "development" or "test" (exact spelling): fails closed. */
  production: boolean;
  port: number;
  /** Where to listen; loopback when the API is open and HOST is unset, else all interfaces. */
  host: string;
  /**
   * The API answers without credentials: no credential of any kind configured, outside production,
   * on the zero-configuration start (no SVIX_API_KEY, no DATABASE_URL) or with OPEN_API=true.
   */
  openApi: boolean;
  /** GOOGLE_CLOUD_PROJECT: log lines name their trace as projects/<project>/traces/<id> for Cloud Logging. */
  googleCloudProject: string | undefined;
  logLevel: string;
  /** PostgreSQL URL; absent → embedded PGlite under dataDir. */
  databaseUrl: string | undefined;
  dataDir: string;
  databasePoolMax: number;
  /** Svix API key; absent only when the in-process emulator stands in (svixEmulator). */
  svixApiKey: string | undefined;
  svixServerUrl: string | undefined;
  /** The in-process Svix emulator stands in for Svix: the zero-configuration start, or SVIX_EMULATOR=true outside production. */
  svixEmulator: boolean;
  /** Time limit of one Svix call. */
  svixTimeoutMs: number;
  /** Total time one request may spend on Svix, retries included (keep under Pub/Sub's ack deadline). */
  requestBudgetMs: number;
  /** Retries of one Svix call inside a request, for 5xx, timeouts and resets. */
  svixMaxRetries: number;
  /** Svix calls this instance keeps in flight at most; past it, requests are shed with 503. */
  svixMaxInFlight: number;
  /** Consecutive Svix failures that open the circuit, and how long it stays open. */
  circuitFailureThreshold: number;
  circuitCooldownMs: number;
  bodyLimitBytes: number;
  /** How long a claim on an event lasts before another instance may take it over. */
  claimTtlMs: number;
  inFlightWaitMs: number;
  /** The dispatcher of queued notifications runs on this instance. */
  dispatchEnabled: boolean;
  /** Pause between dispatcher passes that found nothing due. */
  dispatchIntervalMs: number;
  dispatchBatchSize: number;
  /** Deliveries the dispatcher keeps in flight. */
  dispatchConcurrency: number;
  /** First retry delay after a failed delivery, doubled per failure up to retryMaxDelayMs. */
  retryBaseDelayMs: number;
  retryMaxDelayMs: number;
  /** After this long since arrival, a notification Svix keeps failing on is marked failed. */
  retryHorizonMs: number;
  /** Most values one event may hold (bounds the memory a body can cost). */
  eventMaxValues: number;
  /** Event posts handled at once; past it, 503 before the body is read. */
  ingestMaxInFlight: number;
  /** Bodies at least this large take turns (largeBodyConcurrency at once). */
  largeBodyBytes: number;
  largeBodyConcurrency: number;
  /** The pull worker's subscription, projects/<p>/subscriptions/<s>. */
  pubsubSubscription: string | undefined;
  /** The pull worker's flow control: messages and bytes held at once. */
  pullMaxMessages: number;
  pullMaxBytes: number;
  /** Operator tokens (API_TOKENS): every route, from the Authorization header only. */
  apiTokens: string[];
  /** Ingest tokens (INGEST_TOKENS): POST /notifications only, also as ?token= in a push URL. */
  ingestTokens: string[];
  /** Pub/Sub push OIDC: the expected audience; unset → no OIDC verification. */
  pubsubAudience: string | undefined;
  /** Service accounts whose OIDC tokens may push. */
  pubsubServiceAccounts: string[];
  pubsubJwksUrl: string;
  /**
   * INGEST_AUTH=platform: callers post with a Google-signed ID token (Cloud Run's IAM checks it
   * and forwards it); the relay verifies it again against platformAudience and platformServiceAccounts.
   */
  ingestAuth: "tokens" | "platform";
  /** The audience of the callers' ID tokens with INGEST_AUTH=platform (the service's URL). */
  platformAudience: string | undefined;
  /** Service accounts whose ID tokens may post events with INGEST_AUTH=platform. */
  platformServiceAccounts: string[];
  /** Express's `trust proxy`: proxy hops in front of the relay whose X-Forwarded-For is believed (0: none). */
  trustProxyHops: number;
  /** Payloads of settled notifications, quarantined bodies and the quarantine's details are cleared after this many days. */
  payloadRetentionDays: number;
  /** Settled notifications (with attempts and delivery events) and quarantined messages are deleted after this many days. */
  auditRetentionDays: number;
  /** How often each instance tries to purge (one runs at a time). */
  purgeIntervalMs: number;
  /** Rows of each kind one retention transaction clears or deletes. */
  purgeBatchSize: number;
  /** /readyz answers from a database check at most this old. */
  readinessCacheMs: number;
  /** Apply pending migrations at start (off when a migration job with its own role does it). */
  migrateOnStart: boolean;
  /** Svix's operational-webhook signing secret (whsec_…); unset → POST /svix/webhooks does not exist. */
  svixWebhookSecret: string | undefined;
  /** Keep Svix's event-type catalog in step with the declared types (schemas/event-types.json). */
  eventTypeCatalog: boolean;
  /** An event of a type not declared in schemas/event-types.json: delivered anyway, or refused before anything is recorded. */
  undeclaredEventTypes: "deliver" | "reject";
  shutdownTimeoutMs: number;
  svixEmulatorPort: number;
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** What the database jobs (db:migrate, purge) need: no Svix, no credentials. */
export interface JobConfig {
  databaseUrl: string | undefined;
  dataDir: string;
  payloadRetentionDays: number;
  auditRetentionDays: number;
  purgeIntervalMs: number;
  purgeBatchSize: number;
}
