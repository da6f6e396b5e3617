import type { ProjectView } from "../dashboardData.ts";
import type { Viewer } from "../gate.ts";
import { html, type SafeHtml } from "../html.ts";
import { notificationHref, page, postButton, projectHref, statusBadge, statusCounts, table, time } from "../layout.ts";
import { endpointProblemTable, problemTable } from "./tables.ts";

/** One project: its counts, what failed and why (each with Replay), its endpoints' problems, its app portal. */
export function projectPage(viewer: Viewer, data: ProjectView, notice?: SafeHtml): string {
  const base = projectHref(data.project);
  const hasRejected = data.problems.some((n) => n.status === "rejected");
  const actions = html`<div class="row">
${postButton(viewer, `${base}/replay`, "Replay all failed", { fields: { which: "failed" } })}
${hasRejected ? postButton(viewer, `${base}/replay`, "Replay rejected", { fields: { which: "rejected" }, secondary: true }) : ""}
${postButton(viewer, `${base}/app-portal`, "Open app portal", { secondary: true })}
</div>
<p class="muted">"Replay all failed" sends the project's queued and failed notifications now (100 of each at most per press); rejected ones, which Svix refused, have their own button: fix the cause first.</p>`;
  const recent = table(
    ["Event", "Type", "Status", "Arrived", "Delivered"],
    data.recent.map((n) => [
      html`<a href="${notificationHref(n.eventId)}"><code>${n.eventId}</code></a>`,
      n.type,
      statusBadge(n.status),
      time(n.createdAt),
      time(n.deliveredAt),
    ]),
    "No notifications for this project.",
  );
  return page({
    title: `Project ${data.project}`,
    viewer,
    notice,
    body: html`<dl><dt>Last hour</dt><dd>${statusCounts(data.counts.hour)}</dd><dt>Last 24 hours</dt><dd>${statusCounts(data.counts.day)}</dd></dl>
${actions}
<section id="problems"><h2>Failures, rejections and queued notifications</h2>
${problemTable(data.problems, false, (n) => postButton(viewer, `${notificationHref(n.eventId)}/replay`, "Replay"))}</section>
<section id="endpoint-problems"><h2>Endpoint problems reported by Svix</h2>${endpointProblemTable(data.endpointProblems, false)}</section>
<section id="recent"><h2>Recent notifications</h2>${recent}</section>`,
  });
}
