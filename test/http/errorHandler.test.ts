import express, { type Request, type Response } from "express";
import supertest from "supertest";
import { describe, expect, it } from "vitest";
import { AppError } from "../../src/errors.ts";
import type { Credential } from "../../src/auth/credentials.ts";
import { ANONYMOUS_MESSAGE, errorHandler } from "../../src/http/errorHandler.ts";

/** An app whose routes fail with the given errors; records what the request logger would see. */
function appFailingWith(error: () => unknown, options: { id?: string; credential?: Credential } = {}) {
  const logged: Array<{ err: unknown }> = [];
  const shed: string[] = [];
  const app = express();
  app.use((req: Request, res: Response, next) => {
    if (options.id) req.id = options.id;
    if (options.credential) req.credential = options.credential;
    res.once("finish", () => logged.push({ err: (res as Response & { err?: unknown }).err }));
    next();
  });
  app.post("/json", express.json(), () => {
    throw new Error("unreachable: the body parser fails first");
  });
  app.get("/fail", (_req, _res, next) => next(error()));
  app.get("/fail-mid-answer", (_req, res, next) => {
    res.status(200).write("partial ");
    next(error());
  });
  app.use(errorHandler({ onShed: (code) => shed.push(code) }));
  return { http: supertest(app), logged, shed };
}

const withStatus = (status: unknown) => Object.assign(new Error("from a library"), { status });

describe("errorHandler", () => {
  it("answers a body-parser failure with our code, keeping the parser's error as the cause", async () => {
    const { http, logged } = appFailingWith(() => undefined);
    const res = await http.post("/json").set("content-type", "application/json").send("{not json").expect(400);
    expect(res.body.error).toMatchObject({ code: "invalid_json", message: "The request body is not valid JSON" });
    expect(res.headers["retry-after"]).toBeUndefined();
    const err = logged[0]?.err as AppError;
    expect((err.cause as { type?: string }).type).toBe("entity.parse.failed");
  });

  it.each([400, 404, 499])(
    "answers another error with status %s as 400 invalid_json, keeping the cause",
    async (status) => {
      const original = withStatus(status);
      const { http, logged } = appFailingWith(() => original, { id: "req-7" });
      const res = await http.get("/fail").expect(400);
      expect(res.body).toEqual({
        error: { code: "invalid_json", message: "The request could not be read", details: [], requestId: "req-7" },
      });
      expect((logged[0]!.err as AppError).cause).toBe(original);
    },
  );

  it.each([[399], [500], ["404"], [undefined]])(
    "answers an error with status %s as 500 internal, keeping the cause",
    async (status) => {
      const original = withStatus(status);
      const { http, logged } = appFailingWith(() => original, { credential: { kind: "operator" } });
      const res = await http.get("/fail").expect(500);
      expect(res.body).toEqual({ error: { code: "internal", message: "Internal error", details: [], requestId: "" } });
      expect(res.headers["retry-after"]).toBe("1");
      expect((logged[0]!.err as AppError).cause).toBe(original);
    },
  );

  it("tells a caller without a credential that a 5xx happened and whether to retry, never why", async () => {
    const leaky = () =>
      new AppError("auth_unavailable", "Could not fetch Google's keys: getaddrinfo ENOTFOUND www.googleapis.com", {
        details: [{ path: "jwks", message: "https://www.googleapis.com/oauth2/v3/certs" }],
      });
    const anonymous = await appFailingWith(leaky).http.get("/fail").expect(503).expect("retry-after", "1");
    expect(anonymous.body.error).toEqual({
      code: "auth_unavailable",
      message: ANONYMOUS_MESSAGE,
      details: [],
      requestId: "",
    });
    const pubsub = appFailingWith(leaky, { credential: { kind: "pubsub", email: "push@p.iam.gserviceaccount.com" } });
    expect((await pubsub.http.get("/fail").expect(503)).body.error.message).toMatch(/ENOTFOUND/);
    // A 4xx says what to fix, to anyone.
    const bad = appFailingWith(() => new AppError("invalid_query", "limit must be 1 to 500"));
    expect((await bad.http.get("/fail").expect(400)).body.error.message).toBe("limit must be 1 to 500");
  });

  it("reports shedding codes to onShed and nothing else", async () => {
    const { http, shed } = appFailingWith(() => new AppError("overloaded", "busy"));
    await http.get("/fail").expect(503);
    expect(shed).toEqual(["overloaded"]);
    const other = appFailingWith(() => new AppError("invalid_query", "bad"));
    await other.http.get("/fail").expect(400);
    expect(other.shed).toEqual([]);
  });

  it.each([
    [undefined, "1"],
    [0.2, "1"],
    [2.5, "3"],
    [30, "30"],
  ])("sends Retry-After on a retryable error (retryAfterSeconds %s → %s)", async (seconds, header) => {
    const { http } = appFailingWith(() => new AppError("svix_unavailable", "down", { retryAfterSeconds: seconds }));
    const res = await http.get("/fail").expect(503);
    expect(res.headers["retry-after"]).toBe(header);
    expect(res.body.error.code).toBe("svix_unavailable");
  });

  it("sends no Retry-After on an error trying again cannot fix", async () => {
    const { http } = appFailingWith(() => new AppError("invalid_query", "bad", { retryAfterSeconds: 5 }));
    const res = await http.get("/fail").expect(400);
    expect(res.headers["retry-after"]).toBeUndefined();
  });

  it("only ends an answer whose headers are already sent", async () => {
    const { http, logged } = appFailingWith(() => new AppError("svix_unavailable", "down"));
    const res = await http
      .get("/fail-mid-answer")
      .buffer(true)
      .parse((r, done) => {
        let text = "";
        r.setEncoding("utf8");
        r.on("data", (chunk: string) => (text += chunk));
        r.on("end", () => done(null, text));
      });
    expect(res.status).toBe(200);
    expect(res.body).toBe("partial ");
    expect((logged[0]!.err as AppError).code).toBe("svix_unavailable");
  });
});
