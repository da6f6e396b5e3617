/** Polls `condition` until it holds; fails naming `what` once `ms` have passed. */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  ms: number,
  what = "condition",
): Promise<void> {
  await waitForValue(async () => ((await condition()) ? true : undefined), what, ms);
}

/** Polls `probe` until it returns a value (not undefined), and returns it; fails naming `what` after `ms`. */
export async function waitForValue<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  what: string,
  ms = 20_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
