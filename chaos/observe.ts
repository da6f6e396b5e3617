// What the run reads after the drain, each from its own source: Svix's messages, the relay's
// quarantine (GET /quarantine), the ledger (SQL), and what is left on the subscriptions.
import type pg from "pg";
import { Svix } from "svix";
import type { SvixMessage } from "./checker.ts";
import { sleep } from "./system.ts";

/** Every message our emulator holds, with its application's uid. */
export async function emulatorMessages(emulatorUrl: string): Promise<SvixMessage[]> {
  const res = await fetch(`${emulatorUrl}/_emulator/messages`);
  if (!res.ok) throw new Error(`GET /_emulator/messages: ${res.status}`);
  const body = (await res.json()) as { data: Array<{ appUid: string | null; eventId: string | null }> };
  return body.data.map((m) => ({ appUid: m.appUid, eventId: m.eventId }));
}

/** Retries what a rate-limited or failing Svix refuses (the SDK retries no 429). */
async function patiently<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      const code = (error as { code?: number }).code;
      if (attempt >= 30 || !(code === 429 || (code !== undefined && code >= 500))) throw error;
      await sleep(200 * Math.min(attempt, 10));
    }
  }
}

/** Every message of every application of a Svix-compatible server, through the svix SDK. */
export async function svixServerMessages(serverUrl: string, apiKey: string): Promise<SvixMessage[]> {
  const svix = new Svix(apiKey, { serverUrl });
  const out: SvixMessage[] = [];
  let appIterator: string | undefined;
  for (;;) {
    const apps = await patiently(() => svix.application.list({ limit: 250, iterator: appIterator }));
    for (const app of apps.data) {
      let iterator: string | undefined;
      for (;;) {
        const page = await patiently(() => svix.message.list(app.id, { limit: 250, iterator }));
        for (const m of page.data) out.push({ appUid: app.uid ?? null, eventId: m.eventId ?? null });
        if (page.done || !page.iterator) break;
        iterator = page.iterator;
      }
    }
    if (apps.done || !apps.iterator) break;
    appIterator = apps.iterator;
  }
  return out;
}

/** The Pub/Sub message ids of everything in the relay's quarantine. */
export async function quarantinedMessageIds(relayUrl: string): Promise<Set<string>> {
  const ids = new Set<string>();
  let cursor: string | null = null;
  do {
    const query: string = `limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
    const res = await fetch(`${relayUrl}/quarantine?${query}`);
    if (!res.ok) throw new Error(`GET /quarantine: ${res.status} ${await res.text()}`);
    const page = (await res.json()) as {
      data: Array<{ transport: { pubsubMessageId?: string } }>;
      nextCursor: string | null;
    };
    for (const m of page.data) if (m.transport?.pubsubMessageId) ids.add(m.transport.pubsubMessageId);
    cursor = page.nextCursor;
  } while (cursor);
  return ids;
}

/** event id → status, straight from the notifications table. */
export async function ledgerStatuses(pool: pg.Pool): Promise<Map<string, string>> {
  const { rows } = await pool.query<{ event_id: string; status: string }>(
    "SELECT event_id, status::text AS status FROM notifications",
  );
  return new Map(rows.map((r) => [r.event_id, r.status]));
}

export async function deliveredCount(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(
    "SELECT count(*) AS n FROM notifications WHERE status = 'delivered'",
  );
  return Number(rows[0]?.n ?? 0);
}

/**
 * Pulls what is left on a subscription (its push config detached, or its worker stopped) until it
 * has given nothing for quietMs; acknowledges it so nothing is counted twice. Message ids.
 */
export async function leftovers(pubsubHost: string, subscription: string, quietMs = 3000): Promise<Set<string>> {
  const base = `http://${pubsubHost}/v1/${subscription}`;
  const seen = new Set<string>();
  let quietSince = Date.now();
  while (Date.now() - quietSince < quietMs) {
    const res = await fetch(`${base}:pull`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ maxMessages: 1000, returnImmediately: true }),
    });
    if (!res.ok) throw new Error(`pull ${subscription}: ${res.status} ${await res.text()}`);
    const body = (await res.json()) as { receivedMessages?: Array<{ ackId: string; message: { messageId: string } }> };
    const got = body.receivedMessages ?? [];
    if (got.length > 0) {
      quietSince = Date.now();
      for (const r of got) seen.add(r.message.messageId);
      await fetch(`${base}:acknowledge`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ ackIds: got.map((r) => r.ackId) }),
      });
    } else await sleep(250);
  }
  return seen;
}
