import { describe, expect, it } from "vitest";
import { AppError } from "../../src/errors.ts";
import { safeError } from "../../src/observability/logger.ts";
import { captureLogs } from "../helpers/capturedLogs.ts";

const capture = () => captureLogs();

describe("logs", () => {
  it("drop the message of Prisma errors that quote query arguments, keeping type and code", () => {
    const prismaError = Object.assign(
      new Error('Invalid `prisma.notification.createMany()` invocation: { payload: "jane@example.com" }'),
      {
        name: "PrismaClientKnownRequestError",
        code: "P2002",
      },
    );
    const wrapped = new AppError("database_unavailable", "The ledger is unavailable (insert)", { cause: prismaError });
    const out = JSON.stringify(safeError(wrapped));
    expect(out).not.toContain("jane@example.com");
    expect(out).toContain("P2002");
    expect(out).toContain("The ledger is unavailable (insert)");
  });

  it("use Cloud Logging's severity and redact credentials and payloads", () => {
    const { logger, lines } = capture();
    logger.warn(
      { req: { headers: { authorization: "Bearer sk_live_123" } }, event: { payload: { email: "x@y.z" } } },
      "hello",
    );
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({ severity: "WARNING", message: "hello" });
    expect(lines[0]).not.toContain("sk_live_123");
    expect(lines[0]).not.toContain("x@y.z");
  });
});
