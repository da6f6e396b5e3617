import { Webhook } from "svix";

/** Svix keeps this much of an endpoint's answer in MessageAttemptOut.response. */
const MAX_RESPONSE_CHARS = 1024;

export interface SignedPost {
  url: string;
  /** `whsec_` + base64 key. */
  secret: string;
  /** Sent as svix-id; the same for every retry of one message, so receivers can deduplicate. */
  msgId: string;
  /** The exact bytes that are signed and sent. */
  body: string;
  /** Extra headers (an endpoint's own); the svix-* and content-type headers win. */
  headers?: Record<string, string> | null;
  /** Gives up after this long, milliseconds. */
  timeoutMs: number;
  signal: AbortSignal;
}

export interface PostOutcome {
  ok: boolean;
  /** 0 when no HTTP answer came. */
  statusCode: number;
  /** The start of the answer's body, or why there was none ("timeout", "connection error: …"). */
  response: string;
  durationMs: number;
}

/** The three headers Svix signs a webhook with (timestamp in seconds). */
export function svixHeaders(secret: string, msgId: string, body: string, at = new Date()): Record<string, string> {
  return {
    "svix-id": msgId,
    "svix-timestamp": String(Math.floor(at.getTime() / 1000)),
    "svix-signature": new Webhook(secret).sign(msgId, at, body),
  };
}

/**
 * POSTs a webhook signed as Svix signs it. Never throws: a connection error or timeout is an
 * outcome (statusCode 0), like a failed attempt in Svix. Redirects are not followed (Svix
 * counts a 3xx as a failure).
 */
export async function postSigned(post: SignedPost): Promise<PostOutcome> {
  const started = performance.now();
  // Lower-cased so that an endpoint header spelled "Svix-Id" cannot sit beside ours.
  const own = Object.fromEntries(Object.entries(post.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  const elapsed = () => Math.round(performance.now() - started);
  try {
    const headers = {
      ...own,
      "content-type": "application/json",
      "user-agent": "Svix-Webhooks/emulator",
      ...svixHeaders(post.secret, post.msgId, post.body),
    };
    const res = await fetch(post.url, {
      method: "POST",
      headers,
      body: post.body,
      redirect: "manual",
      signal: AbortSignal.any([post.signal, AbortSignal.timeout(post.timeoutMs)]),
    });
    const text = await res.text().catch(() => "");
    return {
      ok: res.status >= 200 && res.status < 300,
      statusCode: res.status,
      response: text.slice(0, MAX_RESPONSE_CHARS),
      durationMs: elapsed(),
    };
  } catch (error) {
    const name = (error as { name?: string }).name;
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    // fetch reports network failures as TypeError; anything else (a key that cannot sign) is ours.
    const response =
      name === "TimeoutError"
        ? "timeout"
        : name === "AbortError"
          ? "cancelled"
          : name === "TypeError"
            ? `connection error${cause ? `: ${cause}` : ""}`
            : "could not send";
    return { ok: false, statusCode: 0, response, durationMs: elapsed() };
  }
}
