import type { Express, Request, Response } from "express";
import {
  endpointOut,
  isUsableSecret,
  newEndpointSecret,
  normalizeSecret,
  type EmulatedEndpoint,
  type EndpointInput,
} from "./endpointModel.ts";
import { validators } from "./emulatorSchemas.ts";
import { svixId, type EmulatedApp, type EmulatorState, type StoredResponse } from "./emulatorState.ts";
import type { EmulatorOperation } from "./faults.ts";
import { endpointEnabledEvent } from "./operationalEvents.ts";
import type { OperationalWebhookSender } from "./operationalWebhooks.ts";
import { appNotFound, fieldInvalid, httpError, listPage, validationFailed } from "./responses.ts";
import type { WebhookDispatcher } from "./webhookDispatcher.ts";

type Route = (
  op: EmulatorOperation,
  handler: (req: Request) => StoredResponse,
) => (req: Request, res: Response) => void;

const endpointNotFound = (): StoredResponse => httpError(404, "not_found", "Endpoint not found");
const uidTaken = (): StoredResponse => httpError(409, "conflict", "An endpoint with this uid already exists");

/**
 * Svix's endpoint API (`/api/v1/app/{app_id}/endpoint…`) and attempts by message. `app_id` and
 * `endpoint_id` may each be an id or a uid. Enabling or disabling by hand emits the matching
 * operational webhook.
 */
export class EndpointApi {
  private readonly state: EmulatorState;
  private readonly dispatcher: WebhookDispatcher;
  private readonly operational: OperationalWebhookSender;

  constructor(state: EmulatorState, dispatcher: WebhookDispatcher, operational: OperationalWebhookSender) {
    this.state = state;
    this.dispatcher = dispatcher;
    this.operational = operational;
  }

  mount(app: Express, route: Route): void {
    const base = "/api/v1/app/:appId/endpoint";
    app.post(
      base,
      route("endpoint.create", (req) => this.create(req)),
    );
    app.get(
      base,
      route("endpoint.list", (req) => this.list(req)),
    );
    app.get(
      `${base}/:endpointId`,
      route("endpoint.get", (req) => this.withEndpoint(req, (ep) => ({ status: 200, body: endpointOut(ep) }))),
    );
    app.put(
      `${base}/:endpointId`,
      route("endpoint.update", (req) => this.upsert(req)),
    );
    app.patch(
      `${base}/:endpointId`,
      route("endpoint.patch", (req) => this.patch(req)),
    );
    app.delete(
      `${base}/:endpointId`,
      route("endpoint.delete", (req) => this.remove(req)),
    );
    app.get(
      `${base}/:endpointId/secret`,
      route("endpoint.getSecret", (req) => this.withEndpoint(req, (ep) => ({ status: 200, body: { key: ep.secret } }))),
    );
    app.get(
      "/api/v1/app/:appId/attempt/msg/:msgId",
      route("messageAttempt.listByMsg", (req) => this.attemptsByMessage(req)),
    );
  }

  /** Adds an endpoint to an application; the input must be valid EndpointIn. */
  register(app: EmulatedApp, input: EndpointInput & { url: string }): EmulatedEndpoint {
    const now = new Date().toISOString();
    const ep: EmulatedEndpoint = {
      id: svixId("ep"),
      appId: app.id,
      uid: input.uid ?? null,
      url: input.url,
      description: input.description ?? "",
      disabled: input.disabled ?? false,
      eventTypes: input.eventTypes ?? input.filterTypes ?? null,
      channels: input.channels ?? null,
      metadata: input.metadata ?? {},
      throttleRate: input.throttleRate ?? null,
      createdAt: now,
      updatedAt: now,
      secret: input.secret ? normalizeSecret(input.secret) : newEndpointSecret(),
      headers: input.headers ?? null,
      exhaustedInARow: 0,
      failSince: null,
    };
    this.state.endpointsOf(app.id).push(ep);
    return ep;
  }

  private create(req: Request): StoredResponse {
    // Body first, then the application (422 before 404), as message.create does.
    const input: unknown = req.body;
    if (!validators.endpointIn(input)) return validationFailed(validators.endpointIn.errors);
    const app = this.state.findApp(String(req.params.appId));
    if (!app) return appNotFound();
    if (input.secret && !isUsableSecret(input.secret)) return fieldInvalid("secret", "not a valid base64 key");
    if (input.uid && this.state.findEndpoint(app.id, input.uid)) return uidTaken();
    return { status: 201, body: endpointOut(this.register(app, input)) };
  }

  private list(req: Request): StoredResponse {
    const app = this.state.findApp(String(req.params.appId));
    if (!app) return appNotFound();
    const page = listPage(this.state.endpointsOf(app.id), req.query);
    const body = page.body as { data: EmulatedEndpoint[] };
    return { status: 200, body: { ...body, data: body.data.map(endpointOut) } };
  }

  /** PUT: replaces the endpoint's settings (EndpointUpdate), or creates it under that uid. */
  private upsert(req: Request): StoredResponse {
    const input: unknown = req.body;
    if (!validators.endpointUpdate(input)) return validationFailed(validators.endpointUpdate.errors);
    const app = this.state.findApp(String(req.params.appId));
    if (!app) return appNotFound();
    const key = String(req.params.endpointId);
    const ep = this.state.findEndpoint(app.id, key);
    // A new endpoint takes the path's key as its uid; an existing one keeps its own.
    const uid = input.uid ?? (ep ? ep.uid : key);
    const holder = uid === null ? undefined : this.state.findEndpoint(app.id, uid);
    if (holder && holder !== ep) return uidTaken();
    if (!ep)
      return { status: 201, body: endpointOut(this.register(app, { ...input, uid, secret: null, headers: null })) };
    const full = {
      description: "",
      disabled: false,
      eventTypes: null,
      channels: null,
      metadata: {},
      throttleRate: null,
      ...input,
      uid,
    };
    return { status: 200, body: endpointOut(this.apply(app, ep, full)) };
  }

  private patch(req: Request): StoredResponse {
    const input: unknown = req.body;
    if (!validators.endpointPatch(input)) return validationFailed(validators.endpointPatch.errors);
    const app = this.state.findApp(String(req.params.appId));
    if (!app) return appNotFound();
    const ep = this.state.findEndpoint(app.id, String(req.params.endpointId));
    if (!ep) return endpointNotFound();
    const holder = input.uid ? this.state.findEndpoint(app.id, input.uid) : undefined;
    if (holder && holder !== ep) return uidTaken();
    return { status: 200, body: endpointOut(this.apply(app, ep, input)) };
  }

  private remove(req: Request): StoredResponse {
    return this.withEndpoint(req, (ep) => {
      const list = this.state.endpointsOf(ep.appId);
      list.splice(list.indexOf(ep), 1);
      return { status: 204, body: undefined };
    });
  }

  private attemptsByMessage(req: Request): StoredResponse {
    const app = this.state.findApp(String(req.params.appId));
    if (!app) return appNotFound();
    const key = String(req.params.msgId);
    const msg = this.state.messagesOf(app.id).find((m) => m.id === key || m.eventId === key);
    if (!msg) return httpError(404, "not_found", "Message not found");
    const byEndpoint =
      typeof req.query.endpoint_id === "string"
        ? (this.state.findEndpoint(app.id, req.query.endpoint_id)?.id ?? req.query.endpoint_id)
        : undefined;
    const status = req.query.status === undefined ? undefined : Number(req.query.status);
    const attempts = (this.state.attempts.get(msg.id) ?? []).filter(
      (a) => (byEndpoint === undefined || a.endpointId === byEndpoint) && (status === undefined || a.status === status),
    );
    return listPage(attempts, req.query);
  }

  private withEndpoint(req: Request, run: (ep: EmulatedEndpoint) => StoredResponse): StoredResponse {
    const app = this.state.findApp(String(req.params.appId));
    if (!app) return appNotFound();
    const ep = this.state.findEndpoint(app.id, String(req.params.endpointId));
    return ep ? run(ep) : endpointNotFound();
  }

  /** Writes the given fields; a change of `disabled` emits endpoint.disabled / endpoint.enabled. */
  private apply(app: EmulatedApp, ep: EmulatedEndpoint, input: EndpointInput): EmulatedEndpoint {
    const wasDisabled = ep.disabled;
    if (input.url !== undefined) ep.url = input.url;
    if (input.description !== undefined) ep.description = input.description;
    if (input.uid !== undefined) ep.uid = input.uid;
    if (input.eventTypes !== undefined || input.filterTypes !== undefined)
      ep.eventTypes = input.eventTypes ?? input.filterTypes ?? null;
    if (input.channels !== undefined) ep.channels = input.channels;
    if (input.metadata !== undefined) ep.metadata = input.metadata;
    if (input.throttleRate !== undefined) ep.throttleRate = input.throttleRate;
    ep.updatedAt = new Date().toISOString();
    if (input.disabled === true && !wasDisabled) this.dispatcher.disable(app, ep, "manual");
    if (input.disabled === false && wasDisabled) {
      ep.disabled = false;
      // A fresh start: the exhausted-in-a-row count that disabled it must not do so again at once.
      ep.exhaustedInARow = 0;
      ep.failSince = null;
      this.operational.send(endpointEnabledEvent(app, ep));
    }
    return ep;
  }
}
