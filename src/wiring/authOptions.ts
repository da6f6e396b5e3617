import type { Config } from "../config/config.ts";
import type { Clock } from "../core/ports/clock.ts";
import type { AuthOptions } from "../auth/authenticate.ts";
import { GuessThrottle } from "../auth/guessThrottle.ts";
import { PubsubTokenVerifier } from "../auth/pubsubOidc.ts";
import type { Metrics } from "../observability/metrics.ts";

/** The credentials the configuration allows (ARCHITECTURE.md section 6). */
export function authOptionsFrom(config: Readonly<Config>, clock: Clock, metrics: Metrics): AuthOptions {
  const pubsub = config.pubsubAudience
    ? new PubsubTokenVerifier({
        audience: config.pubsubAudience,
        serviceAccounts: config.pubsubServiceAccounts,
        jwksUrl: config.pubsubJwksUrl,
        clock,
      })
    : undefined;
  const platform =
    config.ingestAuth === "platform" && config.platformAudience
      ? new PubsubTokenVerifier({
          audience: config.platformAudience,
          serviceAccounts: config.platformServiceAccounts,
          jwksUrl: config.pubsubJwksUrl,
          clock,
        })
      : undefined;
  return {
    operatorTokens: config.apiTokens,
    ingestTokens: config.ingestTokens,
    pubsub,
    platform,
    throttle: new GuessThrottle({ clock }),
    onFailure: () => metrics.authFailures.inc(),
    onThrottled: () => metrics.authThrottled.inc(),
    // Development with no credential configured at all, on the zero-configuration start or with
    // OPEN_API=true (src/config): open. Production never is.
    open: config.openApi,
  };
}
