import { type Request, type Response, Router } from "express";

// The relay's own HTTP API (OpenAPI 3.1). test/http/openapi.test.ts keeps it in step with the
// routes the app actually serves: a route added without its description fails the suite.

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: object) => ({ "application/json": { schema } });
const error = (description: string) => ({ description, content: json(ref("Error")) });
const operator = [{ operatorToken: [] }];
const ingest = [{ operatorToken: [] }, { ingestToken: [] }, { ingestTokenInQuery: [] }, { pubsubOidc: [] }];
const eventIdParam = {
  name: "eventId",
  in: "path",
  required: true,
  schema: { type: "string", minLength: 1, maxLength: 256 },
};
const commonErrors = { "401": error("no credential"), "403": error("a credential without this scope") };

const notificationSummary = {
  type: "object",
  required: ["eventId", "project", "type", "status", "attemptCount", "createdAt"],
  properties: {
    eventId: { type: "string" },
    project: { type: "string" },
    type: { type: "string" },
    status: { enum: ["received", "queued", "delivered", "rejected", "failed"] },
    attemptCount: { type: "integer", description: "Svix calls made for it" },
    svixAppUid: { type: ["string", "null"] },
    svixMessageId: { type: ["string", "null"] },
    lastError: { type: ["object", "null"], properties: { code: { type: "string" }, message: { type: "string" } } },
    transport: {
      type: "object",
      properties: {
        kind: { enum: ["body", "push_wrapped", "push_unwrapped", "pull"] },
        pubsubMessageId: { type: "string" },
        subscription: { type: "string" },
        deliveryAttempt: { type: "integer" },
        publishTime: { type: "string" },
      },
    },
    nextAttemptAt: { type: ["string", "null"], format: "date-time" },
    payloadPurgedAt: { type: ["string", "null"], format: "date-time" },
    createdAt: { type: "string", format: "date-time" },
    updatedAt: { type: "string", format: "date-time" },
    deliveredAt: { type: ["string", "null"], format: "date-time" },
  },
};

export const OPENAPI = {
  openapi: "3.1.0",
  info: {
    title: "Gigs webhook relay",
    version: "1",
    description:
      "Relays Gigs platform events from Pub/Sub to Svix as webhooks, exactly once. Pub/Sub push gets 200 for everything the relay has recorded (store and forward).",
  },
  components: {
    securitySchemes: {
      operatorToken: {
        type: "http",
        scheme: "bearer",
        description: "API_TOKENS: every route, from the Authorization header only",
      },
      ingestToken: { type: "http", scheme: "bearer", description: "INGEST_TOKENS: POST /notifications only" },
      ingestTokenInQuery: {
        type: "apiKey",
        in: "query",
        name: "token",
        description: "an ingest token in a Pub/Sub push URL",
      },
      pubsubOidc: {
        type: "http",
        scheme: "bearer",
        bearerFormat: "JWT",
        description: "Pub/Sub's Google-signed OIDC token (PUBSUB_AUDIENCE)",
      },
      svixSignature: {
        type: "apiKey",
        in: "header",
        name: "svix-signature",
        description: "Svix's webhook signature with SVIX_WEBHOOK_SECRET (with svix-id and svix-timestamp)",
      },
    },
    schemas: {
      Error: {
        type: "object",
        required: ["error"],
        properties: {
          error: {
            type: "object",
            required: ["code", "message", "details", "requestId"],
            properties: {
              code: { type: "string" },
              message: { type: "string" },
              details: {
                type: "array",
                items: { type: "object", properties: { path: { type: "string" }, message: { type: "string" } } },
              },
              requestId: { type: "string" },
            },
          },
        },
      },
      Event: {
        description: "A Gigs platform event (schemas/event.schema.json)",
        type: "object",
        required: [
          "object",
          "id",
          "data",
          "datacontenttype",
          "project",
          "source",
          "specversion",
          "time",
          "type",
          "version",
        ],
      },
      PushEnvelope: {
        type: "object",
        required: ["message"],
        properties: {
          message: {
            type: "object",
            required: ["data"],
            properties: {
              data: { type: "string", contentEncoding: "base64" },
              messageId: { type: "string" },
              publishTime: { type: "string" },
              attributes: { type: "object" },
            },
          },
          subscription: { type: "string" },
          deliveryAttempt: { type: "integer" },
        },
      },
      Outcome: {
        type: "object",
        required: ["status"],
        properties: {
          eventId: { type: "string" },
          status: { enum: ["delivered", "queued", "rejected", "failed", "quarantined"] },
          duplicate: { type: "boolean" },
          svixAppUid: { type: ["string", "null"] },
          svixMessageId: { type: ["string", "null"] },
          nextAttemptAt: { type: ["string", "null"], format: "date-time" },
          lastError: { type: ["object", "null"] },
          quarantineId: { type: "string" },
          reason: { type: "string" },
        },
      },
      NotificationSummary: notificationSummary,
    },
  },
  paths: {
    "/notifications": {
      post: {
        summary:
          "Relay an event: the event as the body, a wrapped Pub/Sub push envelope, or an unwrapped push (x-goog-pubsub-* headers)",
        security: ingest,
        requestBody: {
          required: true,
          content: { "application/json": { schema: { oneOf: [ref("Event"), ref("PushEnvelope")] } } },
        },
        responses: {
          "200": {
            description:
              "delivered (internal callers); anything recorded (Pub/Sub: delivered, queued, rejected, quarantined)",
            content: json({ type: "object", properties: { data: ref("Outcome") } }),
          },
          "202": {
            description: "queued: the ledger owns it, the dispatcher delivers it (internal callers)",
            content: json({ type: "object", properties: { data: ref("Outcome") } }),
          },
          "400": error("not JSON, broken, fails the schema, or would not arrive unchanged (internal callers)"),
          ...commonErrors,
          "413": error("over the body limit, or an event over Svix's 1 MiB"),
          "415": error("not JSON (direct posts)"),
          "422": error(
            "Svix rejected it for good, the id was received with another body, or its type is not declared and UNDECLARED_EVENT_TYPES=reject (undeclared_event_type) (internal callers)",
          ),
          "503": error("nothing could be recorded (database down, at capacity); Retry-After"),
        },
      },
      get: {
        summary: "Audit: notifications, newest first, filtered, paged with a cursor, at most 1 MB per page",
        security: operator,
        parameters: ["status", "project", "type", "since", "until", "limit", "cursor"].map((name) => ({
          name,
          in: "query",
          schema: { type: name === "limit" ? "integer" : "string" },
        })),
        responses: {
          "200": {
            description: "a page",
            content: json({
              type: "object",
              properties: {
                data: { type: "array", items: ref("NotificationSummary") },
                nextCursor: { type: ["string", "null"] },
              },
            }),
          },
          "400": error("invalid or unknown parameter"),
          ...commonErrors,
        },
      },
    },
    "/notifications/{eventId}": {
      get: {
        summary:
          "One notification with its Svix calls (attempts) and what Svix reported about delivery (deliveryEvents)",
        security: operator,
        parameters: [eventIdParam],
        responses: { "200": { description: "found" }, "404": error("unknown"), ...commonErrors },
      },
    },
    "/notifications/{eventId}/replay": {
      post: {
        summary: "Deliver a queued, failed or rejected notification now; while the circuit is open it is the probe",
        security: operator,
        parameters: [eventIdParam],
        responses: {
          "200": { description: "delivered" },
          "202": { description: "queued again" },
          "404": error("unknown"),
          "409": error("already delivered"),
          "410": error("payload purged"),
          "422": error("rejected again"),
          "503": error("being delivered right now"),
          ...commonErrors,
        },
      },
    },
    "/notifications/{eventId}/payload": {
      delete: {
        summary: "Erase the payload now (an erasure request); a queued notification becomes failed",
        security: operator,
        parameters: [eventIdParam],
        responses: {
          "200": { description: "erased" },
          "404": error("unknown"),
          "503": error("being delivered right now"),
          ...commonErrors,
        },
      },
    },
    "/notifications/replay": {
      post: {
        summary: "Replay many: {status: failed|rejected|queued, project?, type?, since?, until?, limit ≤ 1000}",
        security: operator,
        requestBody: { required: true, content: json({ type: "object", required: ["status"] }) },
        responses: {
          "200": { description: "counts: matched, delivered, stillFailing, skipped…" },
          "400": error("invalid filter"),
          ...commonErrors,
        },
      },
    },
    "/projects/{projectId}/app-portal": {
      post: {
        summary: "A Svix app-portal link for the project's customer dashboard (the application is created if missing)",
        security: operator,
        parameters: [{ name: "projectId", in: "path", required: true, schema: { type: "string" } }],
        requestBody: {
          required: false,
          content: json({
            type: "object",
            properties: {
              expirySeconds: { type: "integer", minimum: 3600, maximum: 604800 },
              readOnly: { type: "boolean" },
              featureFlags: { type: "array", items: { type: "string" }, maxItems: 25 },
            },
          }),
        },
        responses: {
          "200": { description: "{data: {url, token, expiresAt}}" },
          "400": error("invalid options"),
          ...commonErrors,
          "503": error("Svix unavailable"),
        },
      },
    },
    "/quarantine": {
      get: {
        summary: "Pub/Sub messages that can never be delivered, newest first",
        security: operator,
        parameters: [{ name: "limit", in: "query", schema: { type: "integer" } }],
        responses: { "200": { description: "a list" }, ...commonErrors },
      },
    },
    "/svix/webhooks": {
      post: {
        summary: "Svix's operational webhooks (delivery outcomes), authenticated by their signature alone",
        security: [{ svixSignature: [] }],
        responses: {
          "200": { description: "recorded (once per svix-id)" },
          "401": error("unsigned, forged or stale"),
          "404": error("SVIX_WEBHOOK_SECRET is not set"),
        },
      },
    },
    "/metrics": {
      get: {
        summary: "Prometheus metrics",
        security: operator,
        responses: { "200": { description: "text/plain; version=0.0.4" }, ...commonErrors },
      },
    },
    "/healthz": { get: { summary: "The process is up", security: [], responses: { "200": { description: "ok" } } } },
    "/readyz": {
      get: {
        summary:
          "Ready for work: the database answers (a check at most READINESS_CACHE_MS old) and no shutdown under way",
        security: [],
        responses: { "200": { description: "ready" }, "503": { description: "not ready" } },
      },
    },
    "/openapi.json": {
      get: { summary: "This document", security: [], responses: { "200": { description: "OpenAPI 3.1" } } },
    },
  },
} as const;

export function openapiRouter(): Router {
  const router = Router();
  router.get("/openapi.json", (_req: Request, res: Response) => void res.json(OPENAPI));
  return router;
}
