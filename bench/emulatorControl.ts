// The Svix emulator's control API (`/_emulator/*`, src/emulator/controlRouter.ts) seen from the
// benchmark: faults and rate limits per scenario, and what Svix received, counted on Svix's side
// rather than trusting the relay's answers.

export interface EmulatorCall {
  at: number;
  operation: string;
  status: number;
  retryAfter?: number;
}

export interface EmulatorMessages {
  count: number;
  duplicates: Array<{ eventId: string; count: number }>;
  data: Array<{ eventId: string | null; timestamp: string; appUid: string | null }>;
}

export class EmulatorControl {
  readonly url: string;

  constructor(url: string) {
    this.url = url;
  }

  private async send(method: string, path: string, body?: unknown): Promise<Response> {
    const res = await fetch(`${this.url}/_emulator/${path}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    if (!res.ok) throw new Error(`emulator ${method} /_emulator/${path}: ${res.status} ${await res.text()}`);
    return res;
  }

  /** Forgets messages, applications, faults, the rate limit and the call log: one phase's counts start at 0. */
  async reset(): Promise<void> {
    await this.send("POST", "reset");
  }

  async setRateLimit(perSecond: number, retryAfterSeconds: number): Promise<void> {
    await this.send("PUT", "rate-limit", { perSecond, retryAfterSeconds });
  }

  async setLatency(ms: number): Promise<void> {
    await this.send("POST", "faults", { kind: "latency", minMs: ms, maxMs: ms, operation: "message.create" });
  }

  /** Adds fault rules (src/emulator/faults.ts's FaultRule), after those already there. */
  async addFaults(rules: Array<Record<string, unknown>>): Promise<void> {
    await this.send("POST", "faults", rules);
  }

  /** Removes every fault and the rate limit. */
  async clearFaults(): Promise<void> {
    await this.send("DELETE", "faults");
  }

  async calls(): Promise<EmulatorCall[]> {
    return ((await (await this.send("GET", "calls")).json()) as { data: EmulatorCall[] }).data;
  }

  async messages(): Promise<EmulatorMessages> {
    return (await (await this.send("GET", "messages")).json()) as EmulatorMessages;
  }

  /**
   * Waits until the message count stops growing (answers still in flight when the load stopped,
   * a queue draining): two equal counts `pollMs` apart, or `maxMs`.
   */
  async settle(pollMs = 250, maxMs = 10_000): Promise<EmulatorMessages> {
    const deadline = Date.now() + maxMs;
    let last = await this.messages();
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, pollMs));
      const now = await this.messages();
      if (now.count === last.count) return now;
      last = now;
    }
    return last;
  }
}
