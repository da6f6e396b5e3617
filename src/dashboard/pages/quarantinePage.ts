import type { QuarantinedMessage } from "../../core/ports/quarantine.ts";
import type { Viewer } from "../gate.ts";
import { html } from "../html.ts";
import { page } from "../layout.ts";
import { quarantineTable } from "./tables.ts";

/** GET /quarantine for people: newest first, without the bodies (GET /quarantine has them). */
export function quarantinePage(viewer: Viewer, rows: readonly QuarantinedMessage[]): string {
  return page({
    title: "Quarantine",
    viewer,
    body: html`<p class="muted">Pub/Sub messages that can never be delivered (acknowledged so Pub/Sub stops pushing them), the ${rows.length} newest. The bodies are left out here: they hold personal data (GET /quarantine with an operator token has them).</p>${quarantineTable(rows)}`,
  });
}
