import { pino, type Logger } from "pino";

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

/** An error as it may be logged: type, code, a message we trust not to carry payloads, the cause chain. */
export function safeError(error: unknown, depth = 0): Record<string, unknown> {
  if (!(error instanceof Error)) return { type: typeof error };
  const { name, message, stack } = error;
  const code = (error as { code?: unknown }).code;
  const out: Record<string, unknown> = { type: name };
  if (code !== undefined) out.code = code;
  if (!QUOTES_ARGUMENTS.test(name)) out.message = message.slice(0, 500);
  if (stack && !QUOTES_ARGUMENTS.test(name)) out.stack = stack.split("\n").slice(0, 8).join("\n");
  if (error.cause !== undefined && depth < 3) out.cause = safeError(error.cause, depth + 1);
  return out;
}

/**
 * JSON logs for Cloud Logging. Bodies are never logged (events carry emails and phone numbers);
 * credentials are redacted wherever they could appear.
 */
export function createLogger(options: { level: string; destination?: pino.DestinationStream }): Logger {
  return pino(
    {
      level: options.level,
      messageKey: "message",
      base: undefined,
      serializers: { err: safeError },
      formatters: { level: (label) => ({ severity: SEVERITY[label] ?? "DEFAULT", level: label }) },
      redact: {
        paths: [
          "req.headers.authorization",
          "req.headers.cookie",
          "req.headers[\"x-api-key\"]",
          "*.apiKey",
          "*.svixApiKey",
          "*.databaseUrl",
          "*.payload",
          "*.body",
        ],
        censor: "[redacted]",
      },
    },
    options.destination,
  );
}
