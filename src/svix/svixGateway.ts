import { AsyncLocalStorage } from "node:async_hooks";
import { context as otelContext, propagation, trace } from "@opentelemetry/api";
import { type Span, SpanKind, SpanStatusCode, tracer } from "../observability/tracing.ts";
import { ApiException, AppPortalCapability, type EventTypeOut, Svix } from "svix";
import { canonicalJson } from "../core/canonicalJson.ts";
import { type Clock, systemClock } from "../core/ports/clock.ts";
import { AppError } from "../errors.ts";
import type { Metrics } from "../observability/metrics.ts";
import { LeanHttpClient } from "./httpClient.ts";
import { classifySvixError, UnsafeSvixPathError } from "./svixErrors.ts";
import type {
  AppPortalRequest,
  CallOptions,
  EventTypeDefinition,
  OutgoingMessage,
  SentMessage,
  SvixCall,
} from "../core/ports/svix.ts";

/** A Svix application as the relay knows it. */
export interface SvixApp {
  /** Svix's own id, app_… */
  id: string;
  uid: string;
}

/** The Svix calls the relay makes, one HTTP call each (no retries, no guards). */
export interface SvixApi {
  createMessage(message: OutgoingMessage, options?: CallOptions): Promise<SentMessage>;
  getOrCreateApplication(
    input: { uid: string; name: string; project: string },
    options?: CallOptions,
  ): Promise<SvixApp>;
  appPortalAccess(input: AppPortalRequest, options?: CallOptions): Promise<{ url: string; token: string }>;
  /** Makes Svix hold the event type as defined (read, then created or updated only when it differs). */
  ensureEventType(input: EventTypeDefinition, options?: CallOptions): Promise<"created" | "updated" | "unchanged">;
}

export interface SvixGatewayOptions {
  apiKey: string;
  /** Base URL for self-hosted Svix or the emulator; Svix's cloud (by key region) when absent. */
  serverUrl?: string;
  /** Time limit of one Svix call. */
  requestTimeoutMs: number;
  metrics: Metrics;
  /** The relay's clock (the composition root's); the system clock when absent. */
  clock?: Clock;
}

/**
 * The only user of the `svix` SDK. It turns every failure into one AppError, once
 * (classifySvixError): 409 on a message → duplicate (delivered); 429 → svix_rate_limited with
 * Retry-After; 401/403 → svix_unauthorized; 5xx, timeouts, network errors → svix_unavailable;
 * any other 4xx → svix_rejected.
 * The SDK's own retries are switched off: retrying is the caller's decision (resilience layer).
 */
export class SdkSvixGateway implements SvixApi {
  private readonly svix: Svix;
  private readonly metrics: Metrics;
  private readonly clock: Clock;
  private readonly timeoutMs: number;
  /**
   * The call being made: its time limit (the SDK's own timeout is fixed, ours shrinks with the
   * request's budget) and the answer's status and headers, for bodies the SDK cannot parse.
   */
  private readonly current = new AsyncLocalStorage<CallContext>();
  private readonly http = new LeanHttpClient();
  /** url.template of each operation's calls (span names and attributes), by operation. */
  private readonly templates = new Map<string, string>();

  constructor(options: SvixGatewayOptions) {
    this.timeoutMs = options.requestTimeoutMs;
    this.clock = options.clock ?? systemClock;
    this.svix = new Svix(options.apiKey, {
      serverUrl: options.serverUrl,
      retryScheduleInMs: [],
      fetch: (async (input: string | URL | Request, init?: RequestInit) => {
        const context = this.current.getStore();
        const url = input instanceof URL ? input : new URL(String(input));
        if (context && !url.pathname.endsWith(context.path)) throw new UnsafeSvixPathError(context.path, url.pathname);
        const request = init as { method?: string; headers?: Record<string, string>; body?: string };
        // The call's CLIENT span (started in call()): named and described from the request, and
        // its traceparent sent on, so Svix (and anyone tracing it) joins the event's trace.
        const span = context?.span;
        if (context && span?.isRecording()) {
          const method = request.method ?? "GET";
          // One path shape per operation (each is one SDK method): its template is made once.
          let template = this.templates.get(context.operation);
          if (template === undefined) {
            template = urlTemplate(url.pathname);
            this.templates.set(context.operation, template);
          }
          span.updateName(`${method} ${template}`);
          span.setAttributes({
            "http.request.method": method,
            "server.address": url.hostname,
            "server.port": Number(url.port) || (url.protocol === "https:" ? 443 : 80),
            "url.template": template,
          });
          request.headers = { ...request.headers };
          propagation.inject(trace.setSpan(otelContext.active(), span), request.headers);
        }
        const response = await this.http.request(url, request, context?.timeoutMs ?? this.timeoutMs);
        span?.setAttribute("http.response.status_code", response.status);
        if (response.status >= 400) span?.setStatus({ code: SpanStatusCode.ERROR });
        if (context)
          context.response = { status: response.status, retryAfter: response.headers.get("retry-after") ?? undefined };
        return response;
      }) as unknown as typeof fetch,
    });
    this.metrics = options.metrics;
  }

  async getOrCreateApplication(
    input: { uid: string; name: string; project: string },
    options: CallOptions = {},
  ): Promise<SvixApp> {
    const app = await this.call("application.getOrCreate", "/api/v1/app", options, () =>
      this.svix.application.getOrCreate(
        { name: input.name, uid: input.uid, metadata: { gigsProject: input.project } },
        { idempotencyKey: `gigs-relay-app-${input.uid}` },
      ),
    );
    return { id: app.id, uid: app.uid ?? input.uid };
  }

  async appPortalAccess(input: AppPortalRequest, options: CallOptions = {}): Promise<{ url: string; token: string }> {
    const out = await this.call(
      "appPortalAccess",
      `/api/v1/auth/app-portal-access/${segment(input.appUid)}`,
      options,
      () =>
        this.svix.authentication.appPortalAccess(input.appUid, {
          // Creates the application if the project has none yet.
          application: { name: input.appName, uid: input.appUid, metadata: { gigsProject: input.project } },
          expiry: input.expirySeconds,
          featureFlags: input.featureFlags,
          // readOnly is deprecated in Svix's API; the same thing as a capability.
          ...(input.readOnly ? { capabilities: [AppPortalCapability.ViewBase] } : {}),
        }),
    );
    return { url: out.url, token: out.token };
  }

  async ensureEventType(
    input: EventTypeDefinition,
    options: CallOptions = {},
  ): Promise<"created" | "updated" | "unchanged"> {
    const path = `/api/v1/event-type/${segment(input.name)}`;
    let current: EventTypeOut | undefined;
    try {
      current = await this.call("eventType.get", path, options, () => this.svix.eventType.get(input.name));
    } catch (error) {
      if (!(error instanceof AppError && error.upstreamStatus === 404)) throw error;
    }
    if (
      current &&
      current.description === input.description &&
      canonicalJson(current.schemas ?? null) === canonicalJson(input.schemas)
    )
      return "unchanged";
    await this.call("eventType.upsert", path, options, () =>
      this.svix.eventType.upsert(input.name, {
        description: input.description,
        schemas: input.schemas,
        // What an operator set in Svix's dashboard stays: the relay owns descriptions and schemas only.
        archived: current?.archived,
        deprecated: current?.deprecated,
      }),
    );
    return current ? "updated" : "created";
  }

  async createMessage(message: OutgoingMessage, options: CallOptions = {}): Promise<SentMessage> {
    try {
      const out = await this.call("message.create", `/api/v1/app/${segment(message.appUid)}/msg`, options, () =>
        this.svix.message.create(
          message.appUid,
          {
            eventType: message.eventType,
            eventId: message.eventId,
            payload: message.payload,
            // Recreates the application if it was deleted after we cached it.
            application: { name: message.appName, uid: message.appUid, metadata: { gigsProject: message.project } },
          },
          { idempotencyKey: message.idempotencyKey },
        ),
      );
      return { messageId: out.id, duplicate: false, httpStatus: 202 };
    } catch (error) {
      if (error instanceof AppError && error.upstreamStatus === 409) {
        return { messageId: null, duplicate: true, httpStatus: 409 };
      }
      throw error;
    }
  }

  /**
   * One authenticated call that changes nothing (list one application), to learn at start
   * whether Svix takes our key: "ok", "unauthorized" (401/403), or "unreachable" (anything else).
   */
  async checkCredentials(): Promise<{ status: "ok" | "unauthorized" | "unreachable"; detail?: string }> {
    try {
      await this.call("application.list", "/api/v1/app", {}, () => this.svix.application.list({ limit: 1 }));
      return { status: "ok" };
    } catch (error) {
      const appError = classifySvixError(error, undefined, this.clock.now());
      if (appError.code === "svix_unauthorized") return { status: "unauthorized", detail: appError.message };
      return { status: "unreachable", detail: appError.message };
    }
  }

  /**
   * One HTTP call to Svix, within the time left of the request, reported to options.onCall.
   * `path`: where the call must go (its segments encoded as the SDK encodes them); a URL that
   * ended anywhere else is never sent.
   */
  private async call<T extends object>(
    operation: string,
    path: string,
    options: CallOptions,
    fn: () => Promise<T>,
  ): Promise<T> {
    const remaining = options.deadline === undefined ? this.timeoutMs : options.deadline - this.clock.now();
    const startedAt = new Date(this.clock.now());
    const t0 = performance.now();
    const report = (
      outcome: SvixCall["outcome"],
      extra: { httpStatus?: number; errorCode?: string; error?: string; messageId?: string },
    ) => options.onCall?.({ operation, outcome, startedAt, durationMs: Math.round(performance.now() - t0), ...extra });
    this.metrics.svixInFlight.inc();
    // A CLIENT span per HTTP call (retries are calls of their own); no key, no payload on it.
    const span = tracer.startSpan(`svix ${operation}`, { kind: SpanKind.CLIENT });
    // The span goes with the call's own context (not made the active one: nothing under it makes
    // spans or logs, and entering a context costs on every call).
    const context: CallContext = {
      operation,
      path,
      timeoutMs: Math.max(1, Math.min(this.timeoutMs, remaining)),
      span,
    };
    try {
      const result = await this.current.run(context, fn);
      this.metrics.svixCalls.inc({ operation, result: "ok" });
      const messageId = operation === "message.create" ? (result as { id?: string }).id : undefined;
      report(messageId ? "delivered" : "ok", { messageId, httpStatus: context.response?.status });
      return result;
    } catch (error) {
      const appError = classifySvixError(error, context.response, this.clock.now());
      this.metrics.svixCalls.inc({ operation, result: resultLabel(appError) });
      const duplicate = operation === "message.create" && appError.upstreamStatus === 409;
      report(duplicate ? "duplicate" : appError.retryable ? "retryable" : "rejected", {
        httpStatus: appError.upstreamStatus,
        errorCode: duplicate ? undefined : appError.code,
        error: duplicate ? undefined : appError.message,
      });
      span.setAttribute("error.type", appError.upstreamStatus ? String(appError.upstreamStatus) : appError.code);
      span.setStatus({ code: SpanStatusCode.ERROR, message: appError.code });
      throw appError;
    } finally {
      span.end();
      this.metrics.svixInFlight.dec();
    }
  }
}

/** A Svix API path with its ids as placeholders: a span name and url.template without customer data. */
function urlTemplate(path: string): string {
  return path
    .replace(/^(\/api\/v1\/app\/)[^/]+/, "$1{app_id}")
    .replace(/(\/msg\/)[^/]+/, "$1{msg_id}")
    .replace(/(\/endpoint\/)[^/]+/, "$1{endpoint_id}")
    .replace(/(\/event-type\/)[^/]+/, "$1{event_type_name}")
    .replace(/(\/app-portal-access\/)[^/]+/, "$1{app_id}");
}

function resultLabel(error: AppError): string {
  if (error.upstreamStatus === 409) return "conflict";
  if (error.code === "svix_rate_limited") return "rate_limited";
  if (error.code === "svix_unauthorized") return "unauthorized";
  if (error.code === "svix_rejected") return "rejected";
  return error.upstreamStatus ? "unavailable" : "network";
}

/** One segment of a Svix path, encoded as the svix SDK encodes its path parameters. */
const segment = encodeURIComponent;

interface CallContext {
  /** The SDK operation ("message.create"), as metrics and reports name it. */
  operation: string;
  /** The path the call must reach (see call()). */
  path: string;
  timeoutMs: number;
  /** The call's CLIENT span (a no-op one when tracing is off). */
  span: Span;
  response?: { status: number; retryAfter: string | undefined };
}
