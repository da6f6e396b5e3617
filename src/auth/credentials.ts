/**
 * Who is calling, once authenticated: decides what a request may do (ARCHITECTURE.md section 6).
 * - pubsub: Pub/Sub push with a verified Google OIDC token — may post events;
 * - ingest: an ingest token (INGEST_TOKENS) — may post events;
 * - platform: INGEST_AUTH=platform, a Google-signed ID token of an allowed service account (Cloud Run's
 *   IAM let it through, the relay verified it again) — may post events;
 * - operator: an operator token (API_TOKENS) or a dashboard session — may do everything;
 * - open: no credential is configured, outside production (development) — may do everything.
 */
export type Credential =
  | { kind: "pubsub"; email: string }
  | { kind: "ingest" }
  | { kind: "platform"; email: string }
  | { kind: "operator" }
  | { kind: "open" };

declare module "express-serve-static-core" {
  interface Request {
    /** Set by the authentication middleware. */
    credential?: Credential;
    /** True when the request carried something meant as a credential (valid or not). */
    credentialPresented?: boolean;
  }
}
