import { AppError, type ErrorDetail } from "../errors.ts";
import type { Clock } from "./ports/clock.ts";
import type { SvixAdmin } from "./ports/svix.ts";
import { appUidFor } from "./svixIdentifiers.ts";

export interface AppPortalOptions {
  /** 3600..604800: Svix's limits (1 hour to 7 days); 7 days when absent. */
  expirySeconds?: number;
  readOnly?: boolean;
  featureFlags?: string[];
}

export interface AppPortalLink {
  url: string;
  token: string;
  expiresAt: Date;
}

const SVIX_DEFAULT_EXPIRY_SECONDS = 604_800;
const FLAG = /^[a-zA-Z0-9\-_.]{1,256}$/;

/** Validates an app-portal request body: every problem, one detail each. */
export function parseAppPortalOptions(body: unknown): AppPortalOptions {
  if (body === undefined || body === null) return {};
  if (typeof body !== "object" || Array.isArray(body))
    throw new AppError("invalid_request", "The body must be a JSON object", {
      details: [{ path: "/", message: "must be an object" }],
    });
  const { expirySeconds, readOnly, featureFlags, ...rest } = body as Record<string, unknown>;
  const details: ErrorDetail[] = Object.keys(rest).map((key) => ({
    path: `/${key}`,
    message: "is not a known field (expirySeconds, readOnly, featureFlags)",
  }));
  if (
    expirySeconds !== undefined &&
    !(Number.isInteger(expirySeconds) && (expirySeconds as number) >= 3600 && (expirySeconds as number) <= 604_800)
  ) {
    details.push({ path: "/expirySeconds", message: "must be an integer from 3600 (1 hour) to 604800 (7 days)" });
  }
  if (readOnly !== undefined && typeof readOnly !== "boolean")
    details.push({ path: "/readOnly", message: "must be a boolean" });
  if (featureFlags !== undefined) {
    if (!Array.isArray(featureFlags) || featureFlags.length < 1 || featureFlags.length > 25)
      details.push({ path: "/featureFlags", message: "must be an array of 1 to 25 flags" });
    else {
      featureFlags.forEach((flag, i) => {
        if (typeof flag !== "string" || !FLAG.test(flag))
          details.push({ path: `/featureFlags/${i}`, message: "must be 1 to 256 characters of [a-zA-Z0-9-_.]" });
      });
      if (new Set(featureFlags).size !== featureFlags.length)
        details.push({ path: "/featureFlags", message: "must not repeat a flag" });
    }
  }
  if (details.length) throw new AppError("invalid_request", "Invalid app-portal request", { details });
  return {
    expirySeconds: expirySeconds as number | undefined,
    readOnly: readOnly as boolean | undefined,
    featureFlags: featureFlags as string[] | undefined,
  };
}

/**
 * Links to Svix's app portal for the customer dashboard: one per project, creating the project's
 * application if it has none yet (a customer may set up endpoints before its first event).
 */
export class AppPortalService {
  private readonly svix: SvixAdmin;
  private readonly clock: Clock;

  constructor(options: { svix: SvixAdmin; clock: Clock }) {
    this.svix = options.svix;
    this.clock = options.clock;
  }

  async link(project: string, options: AppPortalOptions = {}): Promise<AppPortalLink> {
    const requestedAt = this.clock.now();
    const { url, token } = await this.svix.appPortalAccess({
      appUid: appUidFor(project),
      appName: project,
      project,
      ...options,
    });
    return {
      url,
      token,
      expiresAt: new Date(requestedAt + (options.expirySeconds ?? SVIX_DEFAULT_EXPIRY_SECONDS) * 1000),
    };
  }
}
