import type { NotificationDetail } from "../dashboardData.ts";
import type { Viewer } from "../gate.ts";
import { html, type SafeHtml } from "../html.ts";
import { traceIdOf } from "../../observability/tracing.ts";
import { page, projectHref, canReplay, replayButton, statusBadge, table, time, transportName } from "../layout.ts";

/** One notification: where it stands, every Svix call made for it, what Svix said about its endpoints. No payload. */
export function notificationPage(
  viewer: Viewer,
  data: NotificationDetail,
  notice?: SafeHtml,
  /** GOOGLE_CLOUD_PROJECT: the trace id links to Cloud Trace. */
  traceProject?: string,
): string {
  const n = data.notification;
  const attempts = table(
    ["Started", "Trigger", "Call", "Outcome", "HTTP status", "Error", "Took"],
    data.attempts.map((a) => [
      time(a.startedAt),
      a.trigger,
      a.operation,
      statusBadge(a.outcome),
      a.httpStatus ?? "",
      html`<span class="err">${a.errorCode ? html`<code>${a.errorCode}</code> ` : ""}${a.error ?? ""}</span>`,
      `${a.durationMs} ms`,
    ]),
    "No Svix call was made for it yet.",
  );
  const events = table(
    ["Reported", "What", "Endpoint", "Endpoint answered"],
    data.deliveryEvents.map((e) => [
      time(e.occurredAt),
      e.type,
      html`<code>${e.endpointId ?? ""}</code>`,
      e.responseStatus ?? "",
    ]),
    "Svix has reported nothing about its delivery to the customer's endpoints.",
  );
  const replay = canReplay(n) ? html`<p>${replayButton(viewer, n)}</p>` : "";
  const traceId = traceIdOf(n.traceContext);
  const traceLink = traceId
    ? traceProject
      ? html`<a href="https://console.cloud.google.com/traces/explorer;traceId=${traceId}?project=${traceProject}"><code>${traceId}</code></a>`
      : html`<code>${traceId}</code>`
    : "— (tracing was off when it arrived)";
  return page({
    title: `Event ${n.eventId}`,
    viewer,
    notice,
    body: html`<dl>
<dt>Status</dt><dd id="status">${statusBadge(n.status)}</dd>
<dt>Project</dt><dd><a href="${projectHref(n.project)}">${n.project}</a></dd>
<dt>Type</dt><dd>${n.type}</dd>
<dt>Arrived</dt><dd>${time(n.createdAt)} via ${transportName(n.transport.kind)}${n.transport.pubsubMessageId ? html` (message <code>${n.transport.pubsubMessageId}</code>)` : ""}</dd>
<dt>Delivered to Svix</dt><dd>${time(n.deliveredAt)}</dd>
${n.lastErrorCode ? html`<dt>Why</dt><dd class="err"><code>${n.lastErrorCode}</code> ${n.lastError ?? ""}</dd>` : ""}
${n.status === "queued" ? html`<dt>Next attempt</dt><dd>${time(n.nextAttemptAt)}</dd>` : ""}
<dt>Trace</dt><dd id="trace">${traceLink}</dd>
<dt>Svix</dt><dd>app <code>${n.svixAppUid ?? "—"}</code>, message <code>${n.svixMessageId ?? "—"}</code></dd>
<dt>Payload</dt><dd>${n.payloadPurgedAt ? html`erased ${time(n.payloadPurgedAt)}: it cannot be replayed` : "kept (not shown: personal data)"}</dd>
</dl>${replay}
<h2>Svix calls (${n.attemptCount})</h2>${attempts}
<h2>Delivery to the customer's endpoints</h2>${events}`,
  });
}
