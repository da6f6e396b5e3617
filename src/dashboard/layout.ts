import { createHash } from "node:crypto";
import { type NotificationStatus, REPLAYABLE_STATUSES } from "../core/ports/ledger.ts";
import type { StatusCounts } from "./dashboardData.ts";
import type { Viewer } from "./gate.ts";
import { html, trustedHtml, type SafeHtml } from "./html.ts";

// One style sheet, inline (no assets to serve), allowed by its hash in the CSP. Below 640px a
// table becomes one block per row, each cell labelled (data-label), so a phone needs no scrolling.
const CSS = `
*{box-sizing:border-box}body{margin:0;font:15px/1.45 system-ui,sans-serif;color:#1d2330;background:#f5f6f8}
header{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:center;padding:.6rem 1rem;background:#1d2330;color:#fff}
header a{color:#fff;text-decoration:none;font-weight:600}header form{margin:0}
main{max-width:72rem;margin:0 auto;padding:1rem}h1{font-size:1.35rem;margin:.2rem 0 1rem}h2{font-size:1.1rem;margin:1.5rem 0 .5rem}
a{color:#1f5fbf}table{width:100%;border-collapse:collapse;background:#fff}th,td{text-align:left;padding:.4rem .5rem;border-bottom:1px solid #e3e6eb;vertical-align:top}
th{font-size:.8rem;text-transform:uppercase;color:#5b6475}td.err{max-width:28rem;overflow-wrap:anywhere}code{font-size:.85em;overflow-wrap:anywhere}
.s{display:inline-block;padding:0 .4rem;margin:0 .25rem .2rem 0;border-radius:.6rem;font-size:.85rem;background:#e3e6eb}
.s-delivered{background:#d7f0dd}.s-queued,.s-received{background:#fdf0c4}.s-failed,.s-rejected{background:#f9d5d3}
.notice{padding:.6rem .8rem;background:#fff;border-left:4px solid #1f5fbf;margin-bottom:1rem}.warn{border-color:#c0392b}
.muted{color:#5b6475}.row{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center}form.inline{display:inline;margin:0}
button{font:inherit;padding:.3rem .8rem;border:1px solid #1f5fbf;border-radius:.3rem;background:#1f5fbf;color:#fff;cursor:pointer}
button.secondary{background:#fff;color:#1f5fbf}input{font:inherit;padding:.3rem .5rem;border:1px solid #b9c0cc;border-radius:.3rem;max-width:100%}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;background:#fff;padding:.8rem}dt{color:#5b6475}dd{margin:0;overflow-wrap:anywhere}
@media (max-width:640px){table,thead,tbody,tr,th,td{display:block}thead{display:none}tr{border-bottom:2px solid #c9ced8;padding:.3rem 0}
td{border:0;padding:.15rem .5rem}td::before{content:attr(data-label);display:block;font-size:.75rem;color:#5b6475;text-transform:uppercase}dl{grid-template-columns:1fr}}
`.trim();

/** For the Content-Security-Policy: the one inline style sheet the pages may use. */
export const STYLE_HASH = `'sha256-${createHash("sha256").update(CSS).digest("base64")}'`;

export const dashboardHref = "/dashboard";
export const projectHref = (project: string) => `/dashboard/projects/${encodeURIComponent(project)}`;
export const notificationHref = (eventId: string) => `/dashboard/notifications/${encodeURIComponent(eventId)}`;

const STATUS_ORDER: readonly NotificationStatus[] = ["delivered", "queued", "received", "failed", "rejected"];

const TRANSPORTS: Record<string, string> = {
  body: "a direct post",
  push_wrapped: "Pub/Sub push",
  push_unwrapped: "Pub/Sub push (unwrapped)",
  pull: "Pub/Sub pull",
};

/** How a message came in, in words. */
export function transportName(kind: string): string {
  return TRANSPORTS[kind] ?? kind;
}

export function statusBadge(status: string): SafeHtml {
  return html`<span class="s s-${status}">${status}</span>`;
}

/** "3 delivered 1 queued", busiest statuses in a fixed order; "none" when empty. */
export function statusCounts(counts: StatusCounts): SafeHtml {
  const shown = STATUS_ORDER.filter((s) => (counts[s] ?? 0) > 0);
  if (shown.length === 0) return html`<span class="muted">none</span>`;
  return html`${shown.map((s) => html`<span class="s s-${s}">${counts[s]} ${s}</span>`)}`;
}

export function time(date: Date | null | undefined): SafeHtml {
  if (!date) return html`<span class="muted">—</span>`;
  const iso = date.toISOString();
  return html`<time datetime="${iso}">${iso.slice(0, 19).replace("T", " ")}Z</time>`;
}

export function csrfField(viewer: Viewer): SafeHtml {
  return html`<input type="hidden" name="csrf" value="${viewer.csrf}">`;
}

const REPLAYABLE: ReadonlySet<string> = new Set(REPLAYABLE_STATUSES);

/** Whether an operator may replay the notification: a replayable status, its payload kept. */
export function canReplay(n: { status: string; payloadPurgedAt: Date | null }): boolean {
  return REPLAYABLE.has(n.status) && !n.payloadPurgedAt;
}

/** The Replay button of a notification, where it can be replayed (its payload kept); nothing otherwise. */
export function replayButton(
  viewer: Viewer,
  n: { eventId: string; status: string; payloadPurgedAt: Date | null },
): SafeHtml {
  if (!canReplay(n)) return html``;
  return postButton(viewer, `${notificationHref(n.eventId)}/replay`, "Replay");
}

/** A button that posts (with the CSRF token) to a dashboard action. */
export function postButton(
  viewer: Viewer,
  action: string,
  label: string,
  options: { fields?: Record<string, string>; secondary?: boolean } = {},
): SafeHtml {
  const fields = Object.entries(options.fields ?? {}).map(
    ([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`,
  );
  return html`<form class="inline" method="post" action="${action}">${csrfField(viewer)}${fields}<button type="submit"${options.secondary ? html` class="secondary"` : ""}>${label}</button></form>`;
}

/** A table whose cells carry their column's name, for the stacked layout on phones. */
export function table(
  headers: readonly string[],
  rows: readonly (readonly unknown[])[],
  empty = "Nothing here.",
): SafeHtml {
  if (rows.length === 0) return html`<p class="muted">${empty}</p>`;
  return html`<table><thead><tr>${headers.map((h) => html`<th>${h}</th>`)}</tr></thead><tbody>${rows.map(
    (cells) => html`<tr>${cells.map((cell, i) => html`<td data-label="${headers[i] ?? ""}">${cell}</td>`)}</tr>`,
  )}</tbody></table>`;
}

export interface PageOptions {
  title: string;
  /** Absent on the login page: no navigation, no logout. */
  viewer?: Viewer;
  notice?: SafeHtml;
  body: SafeHtml;
}

export function page(options: PageOptions): string {
  const { viewer } = options;
  const nav = viewer
    ? html`<a href="/dashboard">Overview</a><a href="/dashboard/quarantine">Quarantine</a>
<form method="get" action="/dashboard/find" class="row"><input name="q" placeholder="event id or project" aria-label="Event id or project" required maxlength="256"><button class="secondary" type="submit">Find</button></form>
${viewer.mode === "session" ? postButton(viewer, "/dashboard/logout", "Log out", { secondary: true }) : ""}`
    : "";
  const open =
    viewer?.mode === "open"
      ? html`<p class="notice warn">Open mode: no credential is configured (development), so this dashboard needs no login. Anyone who can reach the relay can use it.</p>`
      : "";
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin"><title>${options.title} · webhook relay</title><style>${trustedHtml(CSS)}</style></head>
<body><header><a href="/dashboard">Webhook relay</a>${nav}</header>
<main>${open}${options.notice ?? ""}<h1>${options.title}</h1>${options.body}</main></body></html>`.value;
}
