// `npm run worker`: the relay fed by a Pub/Sub pull subscription (PUBSUB_SUBSCRIPTION) instead of
// push, for deployments without a public endpoint. Same ledger, same idempotency, same
// dispatcher; it serves only /healthz, /readyz and /metrics on PORT for the platform's probes.
import { runServer } from "../wiring/lifecycle.ts";

runServer({
  name: "worker",
  roles: ["pull", "dispatch"],
  readyMessage: "worker started",
  requires: (config) =>
    config.pubsubSubscription
      ? []
      : ["PUBSUB_SUBSCRIPTION is required for the pull worker (projects/<project>/subscriptions/<subscription>)"],
  usage: `npm run worker — pull events from a Pub/Sub subscription and relay them to Svix

Environment (besides the relay's own, see .env.example):
  PUBSUB_SUBSCRIPTION   projects/<project>/subscriptions/<subscription> (required)
  PULL_MAX_MESSAGES     messages held at once (flow control, default 32)
  PULL_MAX_BYTES        bytes held at once (default 64 MiB)
  PUBSUB_EMULATOR_HOST  host:port of Google's Pub/Sub emulator, as the client library reads it
  PORT                  port of /healthz, /readyz and /metrics (default 3000)
SIGTERM or SIGINT: stop pulling, finish the messages in hand, nack the rest, exit 0.
`,
});
