import { resolve } from "node:path";
import type { Container, Role } from "./container.ts";

export interface StartupLine {
  message: string;
  fields: Record<string, unknown>;
}

/** Where the database lives, without credentials: the embedded folder, or PostgreSQL's host and database. */
function databaseLine(container: Container): string {
  const { config } = container;
  if (!config.databaseUrl) return `database: embedded PostgreSQL (PGlite) in ${resolve(config.dataDir)}`;
  const url = new URL(config.databaseUrl);
  const host = url.hostname || url.searchParams.get("host") || "localhost";
  return `database: PostgreSQL ${host}${url.port ? `:${url.port}` : ""}${url.pathname}`;
}

/**
 * What a newcomer needs to know at start, one human-readable line each: the URL, the database, the
 * Svix target, the subscription pulled from, and a request to try. No secret appears: URLs lose
 * their credentials.
 */
export function startupLines(container: Container, port: number, roles: readonly Role[] = ["api"]): StartupLine[] {
  const { config } = container;
  const host = config.host === "0.0.0.0" || config.host === "::" ? "localhost" : config.host;
  const base = `http://${host}:${port}`;
  const svix = container.emulator
    ? `svix: in-process emulator at ${container.emulator.url} (nothing leaves this machine)`
    : `svix: ${config.svixServerUrl ? new URL(config.svixServerUrl).origin : "Svix cloud (region from the key)"}`;
  const auth = config.apiTokens.length || config.ingestTokens.length ? ' -H "authorization: Bearer $TOKEN"' : "";
  const lines: StartupLine[] = [
    { message: `${roles.includes("api") ? "relay" : "probes"}: ${base}`, fields: { url: base } },
    { message: databaseLine(container), fields: {} },
    { message: svix, fields: {} },
  ];
  if (roles.includes("pull")) {
    lines.push({
      message: `pulling from: ${config.pubsubSubscription}`,
      fields: { subscription: config.pubsubSubscription },
    });
  }
  if (roles.includes("dispatch") && !config.dispatchEnabled) {
    lines.push({ message: "dispatcher: off on this instance (DISPATCH_ENABLED=false)", fields: {} });
  }
  if (roles.includes("api")) {
    lines.push({
      message: `try: curl -sS${auth} -H 'content-type: application/json' --data-binary @examples/events/user.created.json ${base}/notifications`,
      fields: {},
    });
  }
  return lines;
}
