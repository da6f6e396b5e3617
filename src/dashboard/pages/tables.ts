import type { DeliveryEventView } from "../../core/ports/deliveryEvents.ts";
import type { NotificationSummary } from "../../core/ports/ledger.ts";
import type { QuarantinedMessage } from "../../core/ports/quarantine.ts";
import { html, type SafeHtml } from "../html.ts";
import { notificationHref, projectHref, statusBadge, table, time, transportName } from "../layout.ts";

/** Notifications an operator has to look at, with why (shared with the project page). */
export function problemTable(
  rows: readonly NotificationSummary[],
  withProject: boolean,
  actions?: (n: NotificationSummary) => SafeHtml,
): SafeHtml {
  const headers = [
    "Event",
    ...(withProject ? ["Project"] : []),
    "Type",
    "Status",
    "Attempts",
    "Why",
    "Arrived",
    "Next attempt",
    ...(actions ? [""] : []),
  ];
  return table(
    headers,
    rows.map((n) => [
      html`<a href="${notificationHref(n.eventId)}"><code>${n.eventId}</code></a>`,
      ...(withProject ? [html`<a href="${projectHref(n.project)}">${n.project}</a>`] : []),
      n.type,
      statusBadge(n.status),
      n.attemptCount,
      html`<span class="err">${n.lastErrorCode ? html`<code>${n.lastErrorCode}</code> ` : ""}${n.lastError ?? ""}</span>`,
      time(n.createdAt),
      n.status === "queued" ? time(n.nextAttemptAt) : "",
      ...(actions ? [actions(n)] : []),
    ]),
    "No failures, rejections or queued notifications.",
  );
}

/** What Svix reported about customers' endpoints that did not get messages. */
export function endpointProblemTable(rows: readonly DeliveryEventView[], withProject: boolean): SafeHtml {
  const headers = ["Reported", "What", ...(withProject ? ["Project"] : []), "Endpoint", "Endpoint answered", "Event"];
  return table(
    headers,
    rows.map((e) => [
      time(e.occurredAt),
      e.type === "endpoint.disabled" ? "endpoint disabled by Svix" : "all attempts failed",
      ...(withProject
        ? [
            e.project
              ? html`<a href="${projectHref(e.project)}">${e.project}</a>`
              : html`<code>${e.appUid ?? ""}</code>`,
          ]
        : []),
      html`<code>${e.endpointId ?? ""}</code>`,
      e.responseStatus ?? "",
      e.eventId
        ? html`<a href="${notificationHref(e.eventId)}"><code>${e.eventId}</code></a>`
        : html`<code>${e.msgId ?? ""}</code>`,
    ]),
    "Svix reported no endpoint problems.",
  );
}

/** Quarantined messages with every reason, never their bodies (personal data). */
export function quarantineTable(rows: readonly QuarantinedMessage[]): SafeHtml {
  return table(
    ["Received", "Reason", "Why", "Event", "Pub/Sub message", "Size"],
    rows.map((m) => [
      time(m.receivedAt),
      html`<code>${m.reason}</code>`,
      m.purgedAt
        ? html`<span class="muted">cleared by retention on ${time(m.purgedAt)}</span>`
        : html`<span class="err">${m.message}${m.details.length ? html`<ul>${m.details.map((d) => html`<li><code>${d.path || "/"}</code> ${d.message}</li>`)}</ul>` : ""}</span>`,
      m.eventId ? html`<code>${m.eventId}</code>` : "",
      m.transport.pubsubMessageId
        ? html`<code>${m.transport.pubsubMessageId}</code>${m.transport.subscription ? html`<br><span class="muted">${m.transport.subscription}</span>` : ""}`
        : transportName(m.transport.kind),
      `${m.bodyBytes} bytes`,
    ]),
    "Nothing quarantined.",
  );
}
