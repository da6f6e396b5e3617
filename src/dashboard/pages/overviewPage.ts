import type { Overview } from "../dashboardData.ts";
import type { Viewer } from "../gate.ts";
import { html } from "../html.ts";
import { page, projectHref, replayButton, statusCounts, table } from "../layout.ts";
import { endpointProblemTable, problemTable, quarantineTable } from "./tables.ts";

/** Every project's counts for the last hour and day, then what needs an operator: failures, endpoints, quarantine. */
export function overviewPage(viewer: Viewer, data: Overview): string {
  const projects = table(
    ["Project", "Last hour", "Last 24 hours"],
    data.projects.map((p) => [
      html`<a href="${projectHref(p.project)}">${p.project}</a>`,
      statusCounts(p.hour),
      statusCounts(p.day),
    ]),
    "No notifications in the last 24 hours.",
  );
  const q = data.quarantine;
  return page({
    title: "Overview",
    viewer,
    body: html`<h2>Projects</h2><p class="muted">Notifications by status, the 50 busiest projects of the last 24 hours.</p>${projects}
<h2>Recent problems</h2>${problemTable(data.problems, true, (n) => replayButton(viewer, n))}
<h2>Endpoint problems reported by Svix</h2>${endpointProblemTable(data.endpointProblems, true)}
<h2>Quarantine</h2><p>${q.hour} in the last hour, ${q.day} in the last 24 hours. <a href="/dashboard/quarantine">All quarantined messages</a></p>${quarantineTable(q.recent)}`,
  });
}
