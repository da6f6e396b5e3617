import { createServer } from "node:http";
import express, { type NextFunction, type Request, type Response } from "express";
import { controlRouter } from "./controlRouter.ts";
import {
  DEFAULT_DELIVERY_TIMEOUT_MS,
  DEFAULT_DISABLE_ENDPOINT_AFTER,
  DEFAULT_OPERATIONAL_RETRY_SCHEDULE_MS,
  DEFAULT_RETRY_SCHEDULE_MS,
  type SvixEmulatorOptions,
} from "./emulatorOptions.ts";
import { EndpointApi } from "./endpointApi.ts";
import { isUsableSecret } from "./endpointModel.ts";
import { validators } from "./emulatorSchemas.ts";
import { EmulatorState, svixId, type EmulatedApp, type StoredResponse } from "./emulatorState.ts";
import { mountEventTypeApi } from "./eventTypeApi.ts";
import { applyFault } from "./faultResponse.ts";
import { FaultPlan, type CallRecord, type EmulatorOperation } from "./faults.ts";
import { OperationalWebhookSender } from "./operationalWebhooks.ts";
import { httpError, validationFailed } from "./responses.ts";
import { TaskTimers } from "./taskTimers.ts";
import { TrackedServer } from "./trackedServer.ts";
import { WebhookDispatcher } from "./webhookDispatcher.ts";

/** Svix's limit on a message payload. */
export const SVIX_MAX_PAYLOAD_BYTES = 1024 * 1024;

export type { SvixEmulatorOptions } from "./emulatorOptions.ts";

type Handler = (req: Request) => StoredResponse | Promise<StoredResponse>;

/** The request's path as it arrived, still percent-encoded, without the query. */
function rawPath(req: Request): string {
  const url = req.originalUrl;
  const query = url.indexOf("?");
  return query === -1 ? url : url.slice(0, query);
}

/**
 * An in-process stand-in for the part of the Svix API the relay uses, with Svix's status codes
 * and body shapes, idempotency-key replay, and fault injection (`faults`) for tests. The real
 * svix SDK talks to it over HTTP.
 */
export class SvixEmulator {
  readonly state = new EmulatorState();
  readonly faults = new FaultPlan();
  readonly calls: CallRecord[] = [];
  private readonly listener = new TrackedServer("Svix emulator");
  private readonly apiKey: string | undefined;
  private readonly timers = new TaskTimers();
  readonly operational: OperationalWebhookSender;
  private readonly dispatcher: WebhookDispatcher;
  private readonly endpoints: EndpointApi;
  private readonly defaultEndpoint: { url: string; secret: string } | undefined;
  private readonly initialOperationalWebhook: SvixEmulatorOptions["operationalWebhook"];

  constructor(options: SvixEmulatorOptions = {}) {
    this.apiKey = options.apiKey;
    const timeoutMs = options.deliveryTimeoutMs ?? DEFAULT_DELIVERY_TIMEOUT_MS;
    this.operational = new OperationalWebhookSender(this.timers, {
      retryScheduleMs: options.operationalRetryScheduleMs ?? DEFAULT_OPERATIONAL_RETRY_SCHEDULE_MS,
      timeoutMs,
      log: options.log,
    });
    this.initialOperationalWebhook = options.operationalWebhook ?? null;
    this.operational.configure(this.initialOperationalWebhook);
    this.dispatcher = new WebhookDispatcher(this.state, this.operational, this.timers, {
      retryScheduleMs: options.retryScheduleMs ?? DEFAULT_RETRY_SCHEDULE_MS,
      timeoutMs,
      disableAfterExhausted: options.disableEndpointAfter ?? DEFAULT_DISABLE_ENDPOINT_AFTER,
      log: options.log,
    });
    this.endpoints = new EndpointApi(this.state, this.dispatcher, this.operational);
    if (options.defaultEndpoint && !isUsableSecret(options.defaultEndpoint.secret))
      throw new Error("defaultEndpoint.secret must be whsec_ followed by base64");
    this.defaultEndpoint = options.defaultEndpoint;
  }

  /** Delivery attempts, retries and operational webhooks scheduled or in flight. */
  get pendingDeliveries(): number {
    return this.timers.pending;
  }

  /** Starts listening on 127.0.0.1 (port 0: any free port) and returns the base URL. */
  async start(port = 0, host = "127.0.0.1"): Promise<string> {
    return this.listener.listen(createServer(this.app()), port, host);
  }

  get url(): string {
    return this.listener.url;
  }

  /** Also cancels every pending delivery, retry and operational webhook. */
  async stop(): Promise<void> {
    this.timers.cancelAll();
    await this.listener.close();
  }

  /**
   * Forgets every application, endpoint, message, attempt, fault and recorded call, cancels
   * pending deliveries, and points operational webhooks back where the options said.
   */
  reset(): void {
    this.timers.cancelAll();
    this.operational.clear();
    // Back to the constructor's target: a test that re-pointed it must not leak into the next.
    this.operational.configure(this.initialOperationalWebhook ?? null);
    this.state.clear();
    this.faults.clear();
    this.calls.length = 0;
  }

  app(): express.Express {
    const app = express();
    app.disable("x-powered-by");
    app.use(controlRouter(this));
    app.use(express.json({ limit: "8mb" }));
    const route = (op: EmulatorOperation, handler: Handler) => (req: Request, res: Response) =>
      void this.serve(op, handler, req, res);
    app.get(
      "/api/v1/health",
      route("health", () => ({ status: 204, body: undefined })),
    );
    app.get(
      "/api/v1/app",
      route("application.list", (req) => this.listApplications(req)),
    );
    app.post(
      "/api/v1/app",
      route("application.create", (req) => this.createApplication(req)),
    );
    app.get(
      "/api/v1/app/:appId",
      route("application.get", (req) => this.getApplication(req)),
    );
    app.post(
      "/api/v1/app/:appId/msg",
      route("message.create", (req) => this.createMessage(req)),
    );
    app.get(
      "/api/v1/app/:appId/msg",
      route("message.list", (req) => this.listMessages(req)),
    );
    app.get(
      "/api/v1/app/:appId/msg/:msgId",
      route("message.get", (req) => this.getMessage(req)),
    );
    app.post(
      "/api/v1/auth/app-portal-access/:appId",
      route("appPortalAccess", (req) => this.appPortalAccess(req)),
    );
    this.endpoints.mount(app, route);
    mountEventTypeApi(app, this.state, route);
    app.use((req: Request, res: Response) => {
      this.calls.push({
        at: Date.now(),
        operation: "unmatched",
        method: req.method,
        path: rawPath(req),
        status: 404,
      });
      res.status(404).json({ code: "not_found", detail: "Entity not found" });
    });
    app.use((err: { status?: number; type?: string }, _req: Request, res: Response, _next: NextFunction) => {
      if (err.type === "entity.too.large")
        return void res.status(413).json({ code: "payload_too_large", detail: "Payload too large" });
      res.status(err.status ?? 400).json({ code: "invalid_request", detail: "Malformed request body" });
    });
    return app;
  }

  private async serve(op: EmulatorOperation, handler: Handler, req: Request, res: Response): Promise<void> {
    const record = (status: number, retryAfter?: number) =>
      this.calls.push({
        at: Date.now(),
        operation: op,
        method: req.method,
        path: rawPath(req),
        status,
        idempotencyKey: req.header("idempotency-key"),
        traceparent: req.header("traceparent"),
        retryAfter,
      });
    const auth = req.header("authorization") ?? "";
    const token = auth.startsWith("Bearer ") ? auth.slice(7) : "";
    if (!token || (this.apiKey !== undefined && token !== this.apiKey)) {
      record(401);
      return void res.status(401).json({ code: "authentication_failed", detail: "Invalid token" });
    }
    const limited = this.faults.throttled(op, Date.now());
    if (limited) {
      record(429, limited.retryAfterSeconds);
      if (limited.retryAfterSeconds !== undefined) res.setHeader("retry-after", String(limited.retryAfterSeconds));
      return void res.status(429).json({ code: "rate_limited", detail: "Too many requests" });
    }
    if (await applyFault(this.faults.take(op, "before"), res, record)) return;
    const key = req.method === "POST" ? req.header("idempotency-key") : undefined;
    const answer = key ? await this.idempotent(`${token}:${req.path}:${key}`, () => handler(req)) : await handler(req);
    if (await applyFault(this.faults.take(op, "after"), res, record)) return;
    record(answer.status);
    if (answer.body === undefined) return void res.status(answer.status).end();
    res.status(answer.status).json(answer.body);
  }

  /** Svix replays the 2xx answer of a key it has seen; a concurrent call with the key waits for it. */
  private async idempotent(key: string, run: () => StoredResponse | Promise<StoredResponse>): Promise<StoredResponse> {
    const seen = this.state.idempotency.get(key);
    if (seen) return seen;
    const pending = Promise.resolve().then(run);
    this.state.idempotency.set(key, pending);
    const answer = await pending.catch((): StoredResponse => httpError(500, "server_error", "internal error"));
    if (answer.status >= 200 && answer.status < 300) this.state.idempotency.set(key, answer);
    else this.state.idempotency.delete(key);
    return answer;
  }

  private createApplication(req: Request): StoredResponse {
    if (!validators.applicationIn(req.body)) return validationFailed(validators.applicationIn.errors);
    const body = req.body as {
      name: string;
      uid?: string | null;
      metadata?: Record<string, string>;
      throttleRate?: number | null;
    };
    const existing = body.uid ? this.state.findApp(body.uid) : undefined;
    if (existing) {
      if (req.query.get_if_exists === "true") return { status: 200, body: existing };
      return httpError(409, "conflict", "An application with this uid already exists");
    }
    return { status: 201, body: this.newApp(body) };
  }

  private newApp(input: Parameters<EmulatorState["createApp"]>[0]): EmulatedApp {
    const app = this.state.createApp(input);
    if (this.defaultEndpoint) this.endpoints.register(app, this.defaultEndpoint);
    return app;
  }

  private getApplication(req: Request): StoredResponse {
    const app = this.state.findApp(String(req.params.appId));
    return app ? { status: 200, body: app } : httpError(404, "not_found", "Application not found");
  }

  private createMessage(req: Request): StoredResponse {
    if (!validators.messageIn(req.body)) return validationFailed(validators.messageIn.errors);
    const body = req.body as {
      eventId?: string | null;
      eventType: string;
      payload: Record<string, unknown>;
      channels?: string[] | null;
      tags?: string[] | null;
      application?: { name: string; uid?: string | null; metadata?: Record<string, string> } | null;
    };
    if (Buffer.byteLength(JSON.stringify(body.payload)) > SVIX_MAX_PAYLOAD_BYTES)
      return httpError(413, "payload_too_large", "Payload too large");
    const appId = String(req.params.appId);
    let app: EmulatedApp | undefined = this.state.findApp(appId);
    if (!app && body.application) app = this.newApp({ ...body.application, uid: body.application.uid ?? appId });
    if (!app) return httpError(404, "not_found", "Application not found");
    if (body.eventId && this.state.messageWithEventId(app.id, body.eventId)) {
      return httpError(409, "conflict", "A message with this eventId already exists");
    }
    const message = {
      id: svixId("msg"),
      eventId: body.eventId ?? null,
      eventType: body.eventType,
      payload: body.payload,
      channels: body.channels ?? null,
      tags: body.tags ?? null,
      timestamp: new Date().toISOString(),
    };
    this.state.addMessage(app.id, message);
    this.dispatcher.dispatch(app, message);
    const withContent = req.query.with_content !== "false";
    return { status: 202, body: withContent ? message : { ...message, payload: {} } };
  }

  private listApplications(req: Request): StoredResponse {
    const limit = Math.min(Number(req.query.limit ?? 50) || 50, 250);
    const all = [...this.state.apps.values()];
    const data = all.slice(0, limit);
    return {
      status: 200,
      body: { data, iterator: data.at(-1)?.id ?? null, prevIterator: null, done: data.length === all.length },
    };
  }

  private listMessages(req: Request): StoredResponse {
    const app = this.state.findApp(String(req.params.appId));
    if (!app) return httpError(404, "not_found", "Application not found");
    const limit = Math.min(Number(req.query.limit ?? 50) || 50, 250);
    const all = [...this.state.messagesOf(app.id)].reverse();
    const start = req.query.iterator ? all.findIndex((m) => m.id === req.query.iterator) + 1 : 0;
    const data = all.slice(start, start + limit);
    const done = start + limit >= all.length;
    return { status: 200, body: { data, iterator: data.at(-1)?.id ?? null, prevIterator: null, done } };
  }

  private getMessage(req: Request): StoredResponse {
    const app = this.state.findApp(String(req.params.appId));
    const id = String(req.params.msgId);
    const message = app && this.state.messagesOf(app.id).find((m) => m.id === id || m.eventId === id);
    return message ? { status: 200, body: message } : httpError(404, "not_found", "Message not found");
  }

  private appPortalAccess(req: Request): StoredResponse {
    if (!validators.appPortalAccessIn(req.body)) return validationFailed(validators.appPortalAccessIn.errors);
    const appId = String(req.params.appId);
    let app = this.state.findApp(appId);
    const inline = (req.body as { application?: { name: string; uid?: string | null } | null }).application;
    if (!app && inline) app = this.newApp({ ...inline, uid: inline.uid ?? appId });
    if (!app) return httpError(404, "not_found", "Application not found");
    const asked = req.body as {
      expiry?: number | null;
      featureFlags?: string[] | null;
      capabilities?: string[] | null;
    };
    this.state.portalAccesses.push({
      appId: app.id,
      expiry: asked.expiry ?? null,
      featureFlags: asked.featureFlags ?? null,
      capabilities: asked.capabilities ?? null,
    });
    const token = `appsk_${svixId("x").slice(2)}`;
    return {
      status: 200,
      body: {
        token,
        url: `${this.url}/app-portal/login#key=${Buffer.from(JSON.stringify({ appId: app.id, token })).toString("base64url")}`,
      },
    };
  }
}
