import { Writable } from "node:stream";
import type { Logger } from "pino";
import { createLogger } from "../../src/observability/logger.ts";

/** The relay's real logger, writing into memory: what a test reads back is what production writes. */
export interface CapturedLogs {
  logger: Logger;
  /** For code that builds its own logger (the container): the same lines land here. */
  destination: Writable;
  /** Every line as written, in order. */
  lines: string[];
  /** The same lines, parsed. */
  records: Array<Record<string, unknown>>;
}

export function captureLogs(level: "debug" | "info" = "info"): CapturedLogs {
  const lines: string[] = [];
  const records: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const line of chunk.toString().split("\n").filter(Boolean)) {
        lines.push(line);
        records.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  return { logger: createLogger({ level, destination }), destination, lines, records };
}
