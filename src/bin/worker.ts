// `npm run worker`: the relay fed by a Pub/Sub pull subscription (PUBSUB_SUBSCRIPTION) instead of
// push, for deployments without a public endpoint. Same ledger, same idempotency, same
// dispatcher; it serves only /healthz, /readyz and /metrics on PORT for the platform's probes.
import type { Server } from "node:http";
import { PubSub, Duration } from "@google-cloud/pubsub";
import express from "express";
import { ConfigError } from "../config/config.ts";
import { loadConfig } from "../config/loadConfig.ts";
import { buildContainer } from "../wiring/container.ts";
import { authenticate, requireScope } from "../auth/authenticate.ts";
import { authOptionsFrom } from "../auth/authOptions.ts";
import { errorHandler } from "../http/errorHandler.ts";
import { healthRouter, metricsRouter } from "../http/healthRouter.ts";
import { PullWorker } from "../pubsub/pullWorker.ts";

const USAGE = `npm run worker — pull events from a Pub/Sub subscription and relay them to Svix

Environment (besides the relay's own, see .env.example):
  PUBSUB_SUBSCRIPTION   projects/<project>/subscriptions/<subscription> (required)
  PULL_MAX_MESSAGES     messages held at once (flow control, default 32)
  PULL_MAX_BYTES        bytes held at once (default 64 MiB)
  PUBSUB_EMULATOR_HOST  host:port of Google's Pub/Sub emulator, as the client library reads it
  PORT                  port of /healthz, /readyz and /metrics (default 3000)
SIGTERM or SIGINT: stop pulling, finish the messages in hand, nack the rest, exit 0.
`;

async function main(): Promise<void> {
  if (process.argv.includes("--help") || process.argv.includes("-h")) {
    process.stdout.write(USAGE);
    return;
  }
  let config;
  try {
    config = loadConfig();
    if (!config.pubsubSubscription)
      throw new ConfigError(
        "Invalid configuration:\n  - PUBSUB_SUBSCRIPTION is required for the pull worker (projects/<project>/subscriptions/<subscription>)",
      );
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const subscriptionName = config.pubsubSubscription;
  const container = await buildContainer(config);
  const { logger } = container;
  const projectId = subscriptionName.split("/")[1];
  const pubsub = new PubSub({ projectId });
  const subscription = pubsub.subscription(subscriptionName, {
    flowControl: { maxMessages: config.pullMaxMessages, maxBytes: config.pullMaxBytes, allowExcessMessages: false },
    // What the library still holds when we stop is handed back at once, not left to expire.
    closeOptions: { behavior: "NACK", timeout: Duration.from({ seconds: 10 }) },
  });
  const worker = new PullWorker({
    subscription,
    subscriptionName,
    ingest: container.ingest,
    logger,
    metrics: container.metrics,
  });

  const probes = express();
  probes.disable("x-powered-by");
  probes.use(
    healthRouter({
      ping: () => container.store.ping(),
      accepting: () => container.accepting,
      cacheMs: config.readinessCacheMs,
    }),
  );
  probes.use(authenticate(authOptionsFrom(config)), requireScope("operator"), metricsRouter(container.metrics));
  probes.use(errorHandler());
  const server: Server = probes.listen(config.port, config.host);
  await new Promise<void>((resolve, reject) => server.once("listening", resolve).once("error", reject));
  worker.start();
  logger.info(
    { subscription: subscriptionName, port: config.port, emulator: process.env.PUBSUB_EMULATOR_HOST },
    "worker started",
  );

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    container.accepting = false;
    logger.info({ signal, handling: worker.handling }, "shutting down: no new messages, finishing the ones in hand");
    await worker.stop();
    await pubsub.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await container.close();
    logger.info("stopped");
    logger.flush();
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}

main().catch((error: unknown) => {
  process.stderr.write(`worker failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
