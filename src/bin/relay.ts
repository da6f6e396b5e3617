import type { Server } from "node:http";
import { ConfigError, type Config } from "../config/config.ts";
import { loadConfig } from "../config/loadConfig.ts";
import { buildContainer, type Container } from "../wiring/container.ts";
import { startupLines } from "../wiring/startupLines.ts";

// Signals are handled from the first moment (PID 1 in a container has no default handlers): a
// SIGTERM during migrations lets them finish, then the process stops instead of serving.
let stopRequested: string | undefined;
let stop: ((signal: string) => void) | undefined;
const onSignal = (signal: string) => (stop ? stop(signal) : (stopRequested ??= signal));
process.on("SIGTERM", () => onSignal("SIGTERM"));
process.on("SIGINT", () => onSignal("SIGINT"));

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

async function listen(container: Container, config: Readonly<Config>): Promise<Server> {
  const server: Server = container.app.listen(config.port, config.host);
  await new Promise<void>((resolve, reject) => server.once("listening", resolve).once("error", reject)).catch(
    (error: NodeJS.ErrnoException) => {
      if (error.code === "EADDRINUSE")
        fail(
          `relay failed to start: port ${config.port} on ${config.host} is already in use (set PORT to another one)`,
        );
      if (error.code === "EACCES") fail(`relay failed to start: no permission to listen on port ${config.port}`);
      throw error;
    },
  );
  return server;
}

async function main(): Promise<void> {
  let config: Readonly<Config>;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message);
    throw error;
  }
  const container = await buildContainer(config);
  const { logger } = container;
  if (stopRequested) {
    logger.info({ signal: stopRequested }, "stopped before serving");
    await container.close();
    process.exit(0);
  }
  const server = await listen(container, config);
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : config.port;
  for (const line of startupLines(container, port)) logger.info(line.fields, line.message);
  logger.info({ port, database: container.db.kind }, "relay listening");

  let stopping = false;
  stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    void (async () => {
      logger.info({ signal }, "shutting down: no new requests, finishing in-flight ones");
      container.accepting = false;
      const force = setTimeout(() => {
        logger.warn("in-flight requests did not finish in time; closing their connections");
        server.closeAllConnections();
      }, config.shutdownTimeoutMs);
      force.unref();
      // close() waits for every connection; a keep-alive one that finishes its request goes idle
      // and would hold shutdown until its timeout, so idle ones are closed as they appear.
      const idle = setInterval(() => server.closeIdleConnections(), 100);
      await new Promise<void>((resolve) => server.close(() => resolve()));
      clearInterval(idle);
      clearTimeout(force);
      await container.close();
      logger.info("stopped");
      logger.flush();
      process.exit(0);
    })();
  };
}

main().catch((error: unknown) => {
  fail(`relay failed to start: ${error instanceof Error ? error.message : String(error)}`);
});
