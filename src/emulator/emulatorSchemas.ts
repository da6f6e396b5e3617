import { Ajv, type ErrorObject } from "ajv";

// Request bodies of the Svix operations the emulator serves, with the constraints of Svix's
// OpenAPI spec (shared/reference/svix-openapi.json: ApplicationIn, MessageIn, EventTypeIn).
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
        { type: "array", minItems: 1, maxItems: 10, uniqueItems: true, items: { type: "string", maxLength: 128, pattern: "^[a-zA-Z0-9\\-_.:+]+$" } },
        { type: "null" },
      ],
    },
    tags: { anyOf: [{ type: "array", uniqueItems: true, items: { type: "string", maxLength: 128 } }, { type: "null" }] },
    application: { anyOf: [applicationIn, { type: "null" }] },
    payloadRetentionPeriod: { anyOf: [{ type: "integer", minimum: 1, maximum: 90 }, { type: "null" }] },
  },
};
const eventTypeIn = {
  type: "object",
  required: ["name", "description"],
  properties: { name: { type: "string", maxLength: 256, pattern: "^[a-zA-Z0-9\\-_.]+$" }, description: { type: "string" } },
};
const appPortalAccessIn = { type: "object", properties: { application: { anyOf: [applicationIn, { type: "null" }] } } };

const ajv = new Ajv({ allErrors: true, strict: false });
export const validators = {
  applicationIn: ajv.compile(applicationIn),
  messageIn: ajv.compile(messageIn),
  eventTypeIn: ajv.compile(eventTypeIn),
  appPortalAccessIn: ajv.compile(appPortalAccessIn),
};

/** Svix's HTTPValidationError items: `{ loc: ["body", "field"], msg, type }`. */
export function validationDetail(errors: ErrorObject[] | null | undefined): Array<{ loc: string[]; msg: string; type: string }> {
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
