import { randomBytes } from "node:crypto";
import { Webhook } from "svix";
import { describe, expect, it } from "vitest";
import { AppError } from "../errors.ts";
import { OperationalWebhookVerifier } from "./operationalWebhookVerifier.ts";

const SECRET = `whsec_${randomBytes(24).toString("base64")}`;
const verifier = new OperationalWebhookVerifier(SECRET);

/** A webhook as Svix sends it: the raw body and its svix-* headers, signed with `secret` at `at`. */
function signed(payload: string, options: { secret?: string; at?: Date; id?: string } = {}) {
  const { secret = SECRET, at = new Date(), id = `msg_${randomBytes(8).toString("hex")}` } = options;
  const headers: Record<string, string> = {
    "svix-id": id,
    "svix-timestamp": String(Math.floor(at.getTime() / 1000)),
    "svix-signature": new Webhook(secret).sign(id, at, payload),
  };
  return { body: Buffer.from(payload, "utf8"), headers };
}

function verify(webhook: { body: Buffer; headers: Record<string, string> }) {
  return verifier.verify(webhook.body, (name) => webhook.headers[name]);
}

function refusal(webhook: { body: Buffer; headers: Record<string, string> }): AppError {
  try {
    verify(webhook);
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }
  throw new Error("expected a refusal");
}

describe("OperationalWebhookVerifier", () => {
  it("returns a signed webhook's svix-id, type and data", () => {
    const data = { msgId: "msg_1", endpointId: "ep_1", lastAttempt: { responseStatusCode: 500 } };
    const webhook = signed(JSON.stringify({ type: "message.attempt.exhausted", data }), { id: "msg_abc" });
    expect(verify(webhook)).toEqual({ svixId: "msg_abc", type: "message.attempt.exhausted", data });
  });

  it("a forged signature → unauthorized, with the SDK's reason", () => {
    const webhook = signed(JSON.stringify({ type: "x", data: {} }), {
      secret: `whsec_${randomBytes(24).toString("base64")}`,
    });
    expect(refusal(webhook)).toMatchObject({
      code: "unauthorized",
      message: "The Svix webhook signature is not valid: No matching signature found",
    });
  });

  it("a stale timestamp (replayed later) → unauthorized, with the SDK's reason", () => {
    const webhook = signed(JSON.stringify({ type: "x", data: {} }), { at: new Date(Date.now() - 10 * 60_000) });
    expect(refusal(webhook)).toMatchObject({
      code: "unauthorized",
      message: "The Svix webhook signature is not valid: Message timestamp too old",
    });
  });

  it.each(["svix-id", "svix-timestamp", "svix-signature"])(
    "a missing %s header → unauthorized: missing required headers",
    (name) => {
      const webhook = signed(JSON.stringify({ type: "x", data: {} }));
      delete webhook.headers[name];
      expect(refusal(webhook)).toMatchObject({
        code: "unauthorized",
        message: "The Svix webhook signature is not valid: Missing required headers",
      });
    },
  );

  it("a signed body that is not JSON → invalid_json", () => {
    expect(refusal(signed("not json"))).toMatchObject({
      code: "invalid_json",
      message: "The Svix webhook body is not JSON",
    });
  });

  it.each([
    ["without data", { type: "message.attempt.exhausted" }],
    ["with a data that is not an object", { type: "message.attempt.exhausted", data: "msg_1" }],
    ["without a type", { data: {} }],
    ["that is null", null],
  ])("a signed body %s → invalid_request, saying what is missing", (_what, body) => {
    expect(refusal(signed(JSON.stringify(body)))).toMatchObject({
      code: "invalid_request",
      message: "A Svix operational webhook has a type and a data object",
      details: [{ path: "/type", message: "must be a string, with data an object" }],
    });
  });
});
