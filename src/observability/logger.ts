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
