import type { Server } from "node:http";
import { ConfigError, loadConfig } from "./config.ts";
import { buildContainer } from "./container.ts";

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const container = await buildContainer(config);
  const { logger } = container;
  const server: Server = container.app.listen(config.port, config.host);
  await new Promise<void>((resolve, reject) => server.once("listening", resolve).once("error", reject));
  const address = server.address();
  logger.info({ port: typeof address === "object" && address ? address.port : config.port, database: container.db.kind }, "relay listening");

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
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
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}

main().catch((error: unknown) => {
  process.stderr.write(`relay failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
