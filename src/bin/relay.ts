// `npm start`: the relay — the HTTP API (Pub/Sub push, internal posts, operators, dashboard) and
// the dispatcher of queued notifications. Read the configuration, build, run: src/wiring.
import { runServer } from "../wiring/lifecycle.ts";

runServer({
  name: "relay",
  roles: ["api", "dispatch"],
  readyMessage: "relay listening",
  usage: `npm start — relay Gigs platform events to Svix

Configuration is read from the environment (and .env): every variable, with its default, is in
.env.example. With none set, the relay runs on an embedded database with an in-process Svix
emulator. SIGTERM or SIGINT: stop taking requests, finish those in flight, exit 0.
`,
});
