import { Ajv, type ErrorObject } from "ajv";
import addFormats from "ajv-formats";
import type { EndpointInput } from "./endpointModel.ts";

// Request bodies of the Svix operations the emulator serves, with the constraints of Svix's
// OpenAPI spec (shared/reference/svix-openapi.json: ApplicationIn, MessageIn, EventTypeIn,
// EndpointIn, EndpointUpdate, EndpointPatch).
const ID = { type: "string", minLength: 1, maxLength: 256, pattern: "^[a-zA-Z0-9\\-_.]+$" };
const applicationIn = {
  type: "object",
  required: ["name"],
  properties: {
    name: { type: "string", minLength: 1 },
    uid: { anyOf: [ID, { type: "null" }] },
    throttleRate: { anyOf: [{ type: "integer", minimum: 1, maximum: 65535 }, { type: "null" }] },
    metadata: { type: "object", additionalProperties: { type: "string" } },
  },
};
const messageIn = {
  type: "object",
  required: ["eventType", "payload"],
  properties: {
    eventId: { anyOf: [ID, { type: "null" }] },
    eventType: { type: "string", maxLength: 256, pattern: "^[a-zA-Z0-9\\-_.]+$" },
    payload: { type: "object" },
    channels: {
      anyOf: [
        {
          type: "array",
          minItems: 1,
          maxItems: 10,
          uniqueItems: true,
          items: { type: "string", maxLength: 128, pattern: "^[a-zA-Z0-9\\-_.:+]+$" },
        },
        { type: "null" },
      ],
    },
    tags: {
      anyOf: [{ type: "array", uniqueItems: true, items: { type: "string", maxLength: 128 } }, { type: "null" }],
    },
    application: { anyOf: [applicationIn, { type: "null" }] },
    payloadRetentionPeriod: { anyOf: [{ type: "integer", minimum: 1, maximum: 90 }, { type: "null" }] },
  },
};
const eventTypeFields = {
  description: { type: "string" },
  archived: { type: "boolean" },
  deprecated: { type: "boolean" },
  // A JSON Schema of the payload per version, e.g. {"1": {…}}.
  schemas: { anyOf: [{ type: "object", additionalProperties: { type: "object" } }, { type: "null" }] },
  featureFlags: {
    anyOf: [
      {
        type: "array",
        minItems: 1,
        uniqueItems: true,
        items: { type: "string", maxLength: 256, pattern: "^[a-zA-Z0-9\\-_.]+$" },
      },
      { type: "null" },
    ],
  },
  groupName: { anyOf: [{ type: "string", maxLength: 256, pattern: "^[a-zA-Z0-9\\-_.]+$" }, { type: "null" }] },
};
const eventTypeIn = {
  type: "object",
  required: ["name", "description"],
  properties: {
    name: { type: "string", maxLength: 256, pattern: "^[a-zA-Z0-9\\-_.]+$" },
    ...eventTypeFields,
  },
};
// EventTypeUpsertIn: the name is the path's.
const eventTypeUpsertIn = { type: "object", required: ["description"], properties: eventTypeFields };
/** Svix's pattern for an event type's name (the path segment of its upsert). */
export const EVENT_TYPE_NAME = /^[a-zA-Z0-9\-_.]{1,256}$/;
const nullable = (schema: object) => ({ anyOf: [schema, { type: "null" }] });
const EVENT_TYPE = { type: "string", maxLength: 256, pattern: "^[a-zA-Z0-9\\-_.]+$" };
const CHANNEL = { type: "string", maxLength: 128, pattern: "^[a-zA-Z0-9\\-_.:+]+$" };
// Svix delivers over HTTP(S) only; "uri" alone would accept mailto: and the like.
const HTTP_URL = { type: "string", format: "uri", minLength: 1, maxLength: 65536, pattern: "^https?://" };
const STRINGS = { type: "object", additionalProperties: { type: "string" } };
const endpointFields = {
  url: HTTP_URL,
  description: { type: "string" },
  throttleRate: nullable({ type: "integer", minimum: 1, maximum: 65535 }),
  uid: nullable(ID),
  disabled: { type: "boolean" },
  eventTypes: nullable({ type: "array", minItems: 1, uniqueItems: true, items: EVENT_TYPE }),
  // The field's name before Svix renamed it to eventTypes; older clients still send it.
  filterTypes: nullable({ type: "array", minItems: 1, uniqueItems: true, items: EVENT_TYPE }),
  channels: nullable({ type: "array", minItems: 1, maxItems: 10, uniqueItems: true, items: CHANNEL }),
  metadata: STRINGS,
};
const endpointIn = {
  type: "object",
  required: ["url"],
  properties: {
    ...endpointFields,
    // Only whsec_ keys: the emulator signs symmetrically (no whsk_/whpk_ asymmetric keys).
    secret: nullable({ type: "string", pattern: "^(whsec_)?[a-zA-Z0-9+/=]{32,100}$" }),
    headers: nullable(STRINGS),
  },
};
const endpointUpdate = { type: "object", required: ["url"], properties: endpointFields };
// EndpointPatch: every field optional; eventTypes/channels may be emptied.
const endpointPatch = {
  type: "object",
  properties: {
    ...endpointFields,
    throttleRate: nullable({ type: "integer", minimum: 0, maximum: 65535 }),
    eventTypes: nullable({ type: "array", uniqueItems: true, items: EVENT_TYPE }),
    channels: nullable({ type: "array", uniqueItems: true, items: CHANNEL }),
  },
};
const appPortalAccessIn = {
  type: "object",
  properties: {
    application: { anyOf: [applicationIn, { type: "null" }] },
    expiry: { anyOf: [{ type: "integer", minimum: 3600, maximum: 604800 }, { type: "null" }] },
    featureFlags: {
      type: "array",
      minItems: 1,
      maxItems: 25,
      uniqueItems: true,
      items: { type: "string", maxLength: 256, pattern: "^[a-zA-Z0-9\\-_.]+$" },
    },
    capabilities: {
      anyOf: [
        {
          type: "array",
          items: {
            enum: [
              "ViewBase",
              "ViewEndpointSecret",
              "ManageEndpointSecret",
              "ManageTransformations",
              "CreateAttempts",
              "ManageEndpoint",
            ],
          },
        },
        { type: "null" },
      ],
    },
  },
};

const ajv = new Ajv({ allErrors: true, strict: false });
// ajv-formats' CommonJS default export is typed as a namespace under NodeNext.
(addFormats as unknown as (ajv: Ajv, formats: string[]) => void)(ajv, ["uri"]);
export const validators = {
  applicationIn: ajv.compile(applicationIn),
  messageIn: ajv.compile(messageIn),
  eventTypeIn: ajv.compile(eventTypeIn),
  eventTypeUpsertIn: ajv.compile(eventTypeUpsertIn),
  appPortalAccessIn: ajv.compile(appPortalAccessIn),
  endpointIn: ajv.compile<EndpointInput & { url: string }>(endpointIn),
  endpointUpdate: ajv.compile<EndpointInput & { url: string }>(endpointUpdate),
  endpointPatch: ajv.compile<EndpointInput>(endpointPatch),
};

/** Svix's HTTPValidationError items: `{ loc: ["body", "field"], msg, type }`. */
export function validationDetail(
  errors: ErrorObject[] | null | undefined,
): Array<{ loc: string[]; msg: string; type: string }> {
  // anyOf(value, null) reports both branches; one error per field is what Svix answers.
  const seen = new Set<string>();
  return (errors ?? [])
    .filter((e) => e.keyword !== "anyOf" && !(e.keyword === "type" && e.params.type === "null"))
    .filter((e) => {
      const key = `${e.instancePath}/${(e.params as { missingProperty?: string }).missingProperty ?? ""}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    })
    .map((e) => {
      const path = e.instancePath.split("/").filter(Boolean);
      if (e.keyword === "required") path.push((e.params as { missingProperty: string }).missingProperty);
      return { loc: ["body", ...path], msg: e.message ?? "invalid", type: `value_error.${e.keyword}` };
    });
}
