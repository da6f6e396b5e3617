import type { Config } from "../config/config.ts";
import type { Clock } from "../core/ports/clock.ts";
import type { AuthOptions } from "../auth/authenticate.ts";
import { PubsubTokenVerifier } from "../auth/pubsubOidc.ts";

/** The credentials the configuration allows (ARCHITECTURE.md section 6). */
export function authOptionsFrom(config: Readonly<Config>, clock: Clock): AuthOptions {
  const pubsub = config.pubsubAudience
    ? new PubsubTokenVerifier({
        audience: config.pubsubAudience,
        serviceAccounts: config.pubsubServiceAccounts,
        jwksUrl: config.pubsubJwksUrl,
        clock,
      })
    : undefined;
  const nothingConfigured =
    config.apiTokens.length === 0 && config.ingestTokens.length === 0 && !pubsub && config.ingestAuth !== "platform";
  return {
    operatorTokens: config.apiTokens,
    ingestTokens: config.ingestTokens,
    pubsub,
    platformIngest: config.ingestAuth === "platform",
    // Development with no credential configured at all, on the zero-configuration start or with
    // OPEN_API=true (src/config): open. Production never is.
    open: nothingConfigured && config.openApi,
  };
}
