import type { OperationalWebhookConfig } from "./operationalWebhooks.ts";

/** Delivery defaults: fast enough for tests (Svix's own: 0, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h). */
export const DEFAULT_RETRY_SCHEDULE_MS: readonly number[] = [0, 200, 1000];
export const DEFAULT_DELIVERY_TIMEOUT_MS = 15_000;
export const DEFAULT_DISABLE_ENDPOINT_AFTER = 3;
export const DEFAULT_OPERATIONAL_RETRY_SCHEDULE_MS: readonly number[] = [0, 500, 2000];

export interface SvixEmulatorOptions {
  /** Bearer token the emulator accepts; any non-empty token when absent. */
  apiKey?: string;
  /** Delay before each delivery attempt, milliseconds; the first entry is the first attempt. */
  retryScheduleMs?: readonly number[];
  /** Per-attempt timeout of a delivery or operational webhook, milliseconds. Default 15 000. */
  deliveryTimeoutMs?: number;
  /** Messages exhausted in a row after which an endpoint is disabled. Default 3. */
  disableEndpointAfter?: number;
  /** Where Svix's operational webhooks go (also `PUT /_emulator/operational-webhook`). */
  operationalWebhook?: OperationalWebhookConfig | null;
  /** Delay before each operational webhook attempt, milliseconds; then it is dropped. */
  operationalRetryScheduleMs?: readonly number[];
  /** Registered on every application created, however it is created (CLI `--endpoint`). */
  defaultEndpoint?: { url: string; secret: string };
  /** One line per delivery attempt and operational webhook: ids and statuses, never payloads or secrets. */
  log?: (line: string) => void;
}
