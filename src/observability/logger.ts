import type { IncomingMessage, ServerResponse } from "node:http";
import { pino, type Logger } from "pino";
import { type ErrorCode, SHEDDING_CODES } from "../errors.ts";
import { traceLogFields } from "./tracing.ts";

// Cloud Logging reads `severity` and `message`; pino's numeric level would be lost.
const SEVERITY: Record<string, string> = {
  trace: "DEBUG",
  debug: "DEBUG",
  info: "INFO",
  warn: "WARNING",
  error: "ERROR",
  fatal: "CRITICAL",
};

// Prisma's request errors quote the query's arguments, which hold the event (emails, phone numbers).
const QUOTES_ARGUMENTS = /^PrismaClient(KnownRequest|UnknownRequest|Validation)Error$/;

/**
 * An error as it may be logged: type, code, a message we trust not to carry payloads, the cause
 * chain. Also takes an error some library already turned into a plain object ({type, message,
 * stack, code}), so its cause is not lost as `{"type":"object"}`.
 */
export function safeError(error: unknown, depth = 0): Record<string, unknown> {
  if (error === null || typeof error !== "object")
    return { type: typeof error, ...(typeof error === "string" ? { message: error.slice(0, 200) } : {}) };
  const e = error as {
    name?: unknown;
    type?: unknown;
    message?: unknown;
    stack?: unknown;
    code?: unknown;
    cause?: unknown;
    meta?: { code?: unknown };
  };
  let name =
    error instanceof Error
      ? error.name
      : typeof e.type === "string"
        ? e.type
        : typeof e.name === "string"
          ? e.name
          : "Object";
  // pg and PGlite name their server errors "error"; the SQLSTATE code says what they are.
  if (name === "error" && typeof e.code === "string" && /^[0-9A-Z]{5}$/.test(e.code)) name = "DatabaseError";
  const out: Record<string, unknown> = { type: name };
  const code = e.code ?? e.meta?.code;
  if (typeof code === "string" || typeof code === "number") out.code = code;
  // Prisma's pg driver errors carry the PostgreSQL SQLSTATE on the cause.
  if (!QUOTES_ARGUMENTS.test(name)) {
    if (typeof e.message === "string") out.message = e.message.slice(0, 500);
    if (typeof e.stack === "string") out.stack = e.stack.split("\n").slice(0, 8).join("\n");
  }
  if (e.cause !== undefined && e.cause !== null && depth < 3) out.cause = safeError(e.cause, depth + 1);
  return out;
}

/** One line per request at the level its outcome deserves: 5xx error, shedding silent (summarized), else info. */
export function requestLogLevel(
  _req: IncomingMessage,
  res: ServerResponse,
  err?: Error,
): "error" | "warn" | "info" | "silent" {
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code === "string" && SHEDDING_CODES.has(code as ErrorCode)) return "silent";
  // Shed on admission (src/http/admission.ts), answered without an error object: summarized too.
  if ((res as ServerResponse & { locals?: { shed?: boolean } }).locals?.shed) return "silent";
  return res.statusCode >= 500 ? "error" : "info";
}

/**
 * Counts shed requests by reason and writes one WARN line per interval that had any, instead of
 * one line per request (a flood of them would bury everything else and cost CPU while overloaded).
 */
export class ShedSummary {
  private counts = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;
  private readonly logger: Logger;

  constructor(logger: Logger, intervalMs = 10_000) {
    this.logger = logger;
    this.timer = setInterval(() => this.flush(), intervalMs);
    this.timer.unref();
  }

  count(reason: string): void {
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + 1);
  }

  flush(): void {
    if (this.counts.size === 0) return;
    const shed = Object.fromEntries(this.counts);
    this.counts = new Map();
    this.logger.warn({ shed }, "requests shed since the last summary");
  }

  stop(): void {
    clearInterval(this.timer);
    this.flush();
  }
}

/**
 * JSON logs for Cloud Logging. Bodies are never logged (events carry emails and phone numbers);
 * credentials are redacted wherever they could appear. `pretty` (a terminal in development):
 * one readable line per entry through pino-pretty, the same fields, nothing more; piped or in
 * production the lines stay JSON.
 */
export function createLogger(options: {
  level: string;
  destination?: pino.DestinationStream;
  pretty?: boolean;
  /** GOOGLE_CLOUD_PROJECT: names the trace of each line the way Cloud Logging groups them. */
  traceProject?: string;
}): Logger {
  const base: pino.LoggerOptions = {
    level: options.level,
    // Lines written inside a span carry its trace (Cloud Logging's logging.googleapis.com/trace…).
    mixin: traceLogFields(options.traceProject),
    messageKey: "message",
    base: undefined,
    serializers: { err: safeError },
    redact: {
      paths: [
        "req.headers.authorization",
        "req.headers.cookie",
        'req.headers["x-api-key"]',
        "*.apiKey",
        "*.svixApiKey",
        "*.databaseUrl",
        "*.payload",
        "*.body",
      ],
      censor: "[redacted]",
    },
  };
  if (options.pretty && !options.destination) {
    const transport = prettyTransport();
    if (transport) return pino(base, transport);
  }
  return pino(
    { ...base, formatters: { level: (label) => ({ severity: SEVERITY[label] ?? "DEFAULT", level: label }) } },
    options.destination,
  );
}

/** pino-pretty in a worker thread, when it is installed (a development dependency). */
function prettyTransport(): pino.DestinationStream | undefined {
  try {
    return pino.transport({
      target: "pino-pretty",
      options: { messageKey: "message", translateTime: "HH:MM:ss.l", ignore: "pid,hostname", singleLine: true },
    });
  } catch {
    return undefined;
  }
}
