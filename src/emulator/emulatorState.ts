import { randomBytes } from "node:crypto";
import type { EmulatedAttempt, EmulatedEndpoint } from "./endpointModel.ts";

export interface EmulatedApp {
  id: string;
  uid: string | null;
  name: string;
  metadata: Record<string, string>;
  throttleRate: number | null;
  createdAt: string;
  updatedAt: string;
}

export interface EmulatedMessage {
  id: string;
  eventId: string | null;
  eventType: string;
  payload: Record<string, unknown>;
  channels: string[] | null;
  tags: string[] | null;
  timestamp: string;
}

/** An event type of Svix's catalog (EventTypeOut, without the fields the relay never sets). */
export interface EmulatedEventType {
  name: string;
  description: string;
  /** JSON Schemas of the payload keyed by version ("1"); null when none were given. */
  schemas: Record<string, unknown> | null;
  archived: boolean;
  deprecated: boolean;
  createdAt: string;
  updatedAt: string;
}

export interface StoredResponse {
  status: number;
  body: unknown;
}

const ALPHANUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** Svix-shaped ids: a prefix and 27 alphanumerics (app_…, msg_…). */
export function svixId(prefix: string): string {
  const bytes = randomBytes(27);
  let out = "";
  for (const b of bytes) out += ALPHANUM[b % ALPHANUM.length];
  return `${prefix}_${out}`;
}

/** What the emulated Svix account holds. */
export class EmulatorState {
  readonly apps = new Map<string, EmulatedApp>();
  readonly messages = new Map<string, EmulatedMessage[]>();
  /** Messages by application and eventId (Svix's 409 for an eventId it holds). */
  private readonly byEventId = new Map<string, EmulatedMessage>();
  readonly eventTypes = new Map<string, EmulatedEventType>();
  /** application id → its endpoints, oldest first. */
  readonly endpoints = new Map<string, EmulatedEndpoint[]>();
  /** message id → its delivery attempts to every endpoint, oldest first. */
  readonly attempts = new Map<string, EmulatedAttempt[]>();
  /** idempotency key → the 2xx answer it got, or the call still working on it. */
  readonly idempotency = new Map<string, StoredResponse | Promise<StoredResponse>>();
  /** Every app-portal access granted, oldest first: the application and what was asked for. */
  readonly portalAccesses: Array<{
    appId: string;
    expiry: number | null;
    featureFlags: string[] | null;
    capabilities: string[] | null;
  }> = [];

  findApp(idOrUid: string): EmulatedApp | undefined {
    const byId = this.apps.get(idOrUid);
    if (byId) return byId;
    for (const app of this.apps.values()) if (app.uid === idOrUid) return app;
    return undefined;
  }

  createApp(input: {
    name: string;
    uid?: string | null;
    metadata?: Record<string, string>;
    throttleRate?: number | null;
  }): EmulatedApp {
    const now = new Date().toISOString();
    const app: EmulatedApp = {
      id: svixId("app"),
      uid: input.uid ?? null,
      name: input.name,
      metadata: input.metadata ?? {},
      throttleRate: input.throttleRate ?? null,
      createdAt: now,
      updatedAt: now,
    };
    this.apps.set(app.id, app);
    this.messages.set(app.id, []);
    return app;
  }

  /** Creates or replaces an event type, as Svix's upsert does (createdAt kept on a replace). */
  putEventType(input: {
    name: string;
    description: string;
    schemas?: Record<string, unknown> | null;
    archived?: boolean;
    deprecated?: boolean;
  }): { eventType: EmulatedEventType; created: boolean } {
    const existing = this.eventTypes.get(input.name);
    const now = new Date().toISOString();
    const eventType: EmulatedEventType = {
      name: input.name,
      description: input.description,
      schemas: input.schemas ?? null,
      archived: input.archived ?? false,
      deprecated: input.deprecated ?? false,
      createdAt: existing?.createdAt ?? now,
      updatedAt: now,
    };
    this.eventTypes.set(input.name, eventType);
    return { eventType, created: !existing };
  }

  endpointsOf(appId: string): EmulatedEndpoint[] {
    let list = this.endpoints.get(appId);
    if (!list) {
      list = [];
      this.endpoints.set(appId, list);
    }
    return list;
  }

  findEndpoint(appId: string, idOrUid: string): EmulatedEndpoint | undefined {
    return this.endpoints.get(appId)?.find((ep) => ep.id === idOrUid || ep.uid === idOrUid);
  }

  attemptsOf(msgId: string): EmulatedAttempt[] {
    let list = this.attempts.get(msgId);
    if (!list) {
      list = [];
      this.attempts.set(msgId, list);
    }
    return list;
  }

  messagesOf(appId: string): EmulatedMessage[] {
    return this.messages.get(appId) ?? [];
  }

  /** Stores a message of the application (kept findable by its eventId). */
  addMessage(appId: string, message: EmulatedMessage): void {
    let list = this.messages.get(appId);
    if (!list) {
      list = [];
      this.messages.set(appId, list);
    }
    list.push(message);
    if (message.eventId) this.byEventId.set(`${appId}\u0000${message.eventId}`, message);
  }

  /**
   * The application's message with this eventId: looked up, not searched (a scan of every message
   * made each create slower as a long benchmark went on).
   */
  messageWithEventId(appId: string, eventId: string): EmulatedMessage | undefined {
    return this.byEventId.get(`${appId}\u0000${eventId}`);
  }

  /** Every message in every application, oldest first. */
  allMessages(): Array<EmulatedMessage & { appId: string; appUid: string | null }> {
    const out: Array<EmulatedMessage & { appId: string; appUid: string | null }> = [];
    for (const [appId, list] of this.messages) {
      const app = this.apps.get(appId);
      for (const m of list) out.push({ ...m, appId, appUid: app?.uid ?? null });
    }
    return out.sort((a, b) => a.timestamp.localeCompare(b.timestamp));
  }

  clear(): void {
    this.apps.clear();
    this.messages.clear();
    this.byEventId.clear();
    this.eventTypes.clear();
    this.endpoints.clear();
    this.attempts.clear();
    this.idempotency.clear();
    this.portalAccesses.length = 0;
  }
}
