import { createServer, type Server } from "node:http";
import type { Logger } from "pino";
import type { Config } from "../config/config.ts";
import { ConfigError } from "../config/config.ts";
import { loadConfig } from "../config/loadConfig.ts";
import { createApp } from "./app.ts";
import { buildContainer, type Role } from "./container.ts";
import { startTracing } from "../observability/tracing.ts";
import { startupLines } from "./startupLines.ts";

export interface ServerProcess {
  /** How the process names itself in its one-line failures: "relay failed to start: …". */
  name: string;
  roles: readonly Role[];
  /** Printed for --help. */
  usage?: string;
  /** The log line that says the process is up (tests and operators wait for it). */
  readyMessage: string;
  /** What this process needs beyond the relay's configuration: problems, each naming its variable. */
  requires?: (config: Readonly<Config>) => string[];
}

/** Writes one line to stderr and exits 1: what a failed start looks like on a terminal and in Cloud Logging. */
function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

/** Listens, turning a busy or forbidden port into one line that says what to do. */
async function listen(server: Server, config: Readonly<Config>): Promise<number> {
  server.listen(config.port, config.host);
  await new Promise<void>((resolve, reject) => server.once("listening", resolve).once("error", reject)).catch(
    (error: NodeJS.ErrnoException) => {
      if (error.code === "EADDRINUSE") {
        throw new ConfigError(`port ${config.port} on ${config.host} is already in use (set PORT to another one)`);
      }
      if (error.code === "EACCES") throw new ConfigError(`no permission to listen on port ${config.port}`);
      throw error;
    },
  );
  const address = server.address();
  return typeof address === "object" && address ? address.port : config.port;
}

/**
 * Stops a server the way a load balancer expects: no new connections, requests in flight finish
 * (up to timeoutMs, the shutdown's time left, then their connections are cut). close() waits for
 * every connection; a keep-alive one that finishes its request goes idle and would hold shutdown
 * until its timeout, so idle ones are closed as they appear.
 */
function drain(server: Server, timeoutMs: number, logger: Logger): Promise<void> {
  const force = setTimeout(() => {
    logger.warn("in-flight requests did not finish in time; closing their connections");
    server.closeAllConnections();
  }, timeoutMs);
  force.unref();
  const idle = setInterval(() => server.closeIdleConnections(), 100);
  return new Promise<void>((resolve) => server.close(() => resolve())).finally(() => {
    clearInterval(idle);
    clearTimeout(force);
  });
}

/**
 * The one lifecycle of the relay's server processes (`npm start`, `npm run worker`): signals are
 * handled from the first moment (PID 1 in a container has no default handlers; a SIGTERM during
 * migrations lets them finish, then the process stops instead of serving); configuration
 * problems and a busy port are one line; the roles are built by the composition root, the HTTP
 * server listens last and is stopped first; shutdown runs in the reverse order of start.
 */
export function runServer(spec: ServerProcess): void {
  let stopRequested: string | undefined;
  let stop: ((signal: string) => void) | undefined;
  const onSignal = (signal: string) => {
    if (stop) stop(signal);
    else stopRequested ??= signal;
  };
  process.on("SIGTERM", () => onSignal("SIGTERM"));
  process.on("SIGINT", () => onSignal("SIGINT"));
  if (spec.usage && (process.argv.includes("--help") || process.argv.includes("-h"))) {
    process.stdout.write(spec.usage);
    process.exit(0);
  }
  start(
    spec,
    () => stopRequested,
    (handler) => (stop = handler),
  ).catch((error: unknown) => {
    fail(`${spec.name} failed to start: ${error instanceof Error ? error.message : String(error)}`);
  });
}

async function start(
  spec: ServerProcess,
  stopRequested: () => string | undefined,
  onStop: (handler: (signal: string) => void) => void,
): Promise<void> {
  let config: Readonly<Config>;
  try {
    config = loadConfig();
    const problems = spec.requires?.(config) ?? [];
    if (problems.length > 0) throw new ConfigError(`Invalid configuration:\n  - ${problems.join("\n  - ")}`);
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message);
    throw error;
  }
  // Before anything is built: spans of the start-up's calls, and a tracer every part finds.
  const tracing = await startTracing();
  const container = await buildContainer(config);
  const { logger } = container;
  const stopNow = async (signal: string) => {
    logger.info(
      { signal, handling: container.puller?.handling },
      "shutting down: no new work, finishing what is in hand",
    );
    await container.close();
    await tracing.shutdown();
    logger.info("stopped");
    logger.flush();
    process.exit(0);
  };
  if (stopRequested()) {
    logger.info({ signal: stopRequested() }, "stopped before serving");
    return stopNow(stopRequested()!);
  }
  const server = createServer(createApp(container, spec.roles.includes("api") ? "api" : "probes"));
  const port = await listen(server, config).catch(async (error: unknown) => {
    await container.close();
    throw error;
  });
  container.start(spec.roles);
  container.onClose((timeLeft) => drain(server, timeLeft(), logger));
  let stopping = false;
  onStop((signal) => {
    if (stopping) return;
    stopping = true;
    container.readiness.stopAccepting();
    void stopNow(signal);
  });
  for (const line of startupLines(container, port, spec.roles)) logger.info(line.fields, line.message);
  logger.info({ port, database: container.db.kind, roles: spec.roles }, spec.readyMessage);
}
