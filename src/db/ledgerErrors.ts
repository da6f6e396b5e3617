import { AppError, isAppError } from "../errors.ts";

/** Turns any database failure into a retryable AppError: the caller answers 503, Pub/Sub redelivers. */
export async function db<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (isAppError(error)) throw error;
    throw new AppError("database_unavailable", `The ledger is unavailable (${what})`, {
      cause: error,
      retryAfterSeconds: 2,
    });
  }
}
