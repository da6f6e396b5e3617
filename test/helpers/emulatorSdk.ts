import { ApiException, Svix } from "svix";
import { afterAll, beforeAll, beforeEach } from "vitest";
import { SvixEmulator } from "../../src/emulator/svixEmulator.ts";

export interface EmulatorSdk {
  emulator: SvixEmulator;
  /** The real svix SDK, without its own retries, pointed at the emulator. */
  svix: Svix;
}

/** A Svix emulator and an SDK client for one test file; the emulator forgets everything before each test. */
export function useEmulatorSdk(): EmulatorSdk {
  const sdk = {} as EmulatorSdk;
  beforeAll(async () => {
    sdk.emulator = new SvixEmulator({ apiKey: "sk_test" });
    sdk.svix = new Svix("sk_test", { serverUrl: await sdk.emulator.start(), retryScheduleInMs: [] });
  });
  afterAll(() => sdk.emulator.stop());
  beforeEach(() => sdk.emulator.reset());
  return sdk;
}

/** The ApiException a call to the SDK ends with (any other outcome fails the test). */
export async function apiError(promise: Promise<unknown>): Promise<ApiException<{ code?: string; detail?: unknown }>> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ApiException) return error;
    throw error;
  }
  throw new Error("expected an ApiException");
}
