import type { Response } from "supertest";

/**
 * Acts as Pub/Sub does: sends until the relay answers 2xx, waiting as Retry-After says (or a
 * short backoff). Returns every status seen. Bounded by maxTries.
 */
export async function untilAcked(send: () => Promise<Response>, maxTries = 60): Promise<number[]> {
  const seen: number[] = [];
  for (let i = 0; i < maxTries; i += 1) {
    const res = await send();
    seen.push(res.status);
    if (res.status >= 200 && res.status < 300) return seen;
    if (res.status !== 429 && res.status !== 503)
      throw new Error(`unexpected ${res.status}: ${JSON.stringify(res.body)}`);
    const retryAfter = Number(res.headers["retry-after"] ?? 0);
    await new Promise((r) => setTimeout(r, retryAfter > 0 ? retryAfter * 1000 : 100));
  }
  throw new Error(`not acknowledged after ${maxTries} tries: ${seen.join(",")}`);
}

/** Runs tasks with at most `limit` at once. */
export async function inParallel<T>(items: T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const item = items[next++] as T;
        await task(item);
      }
    }),
  );
}
