import type { Viewer } from "../gate.ts";
import { html, type SafeHtml } from "../html.ts";
import { page } from "../layout.ts";

/** An error or the answer to an action, with where to go next. */
export function messagePage(options: {
  title: string;
  message: string;
  viewer?: Viewer;
  links?: Array<{ href: string; label: string }>;
  extra?: SafeHtml;
}): string {
  const links = (options.links ?? []).map((l) => html`<li><a href="${l.href}">${l.label}</a></li>`);
  return page({
    title: options.title,
    viewer: options.viewer,
    body: html`<p>${options.message}</p>${options.extra ?? ""}${links.length ? html`<ul>${links}</ul>` : ""}`,
  });
}

/**
 * The app-portal link, as a page with a link rather than a redirect: browsers apply the form's
 * CSP (form-action 'self') to a redirect after a post too, and the portal is another origin.
 */
export function appPortalPage(
  viewer: Viewer,
  project: string,
  link: { url: string; expiresAt: Date },
  backHref: string,
): string {
  return page({
    title: `App portal of ${project}`,
    viewer,
    body: html`<p>A link to the customer's app portal (their endpoints and deliveries in Svix), valid until ${link.expiresAt.toISOString()}:</p>
<p><a id="app-portal-link" href="${link.url}" rel="noreferrer noopener" target="_blank">Open the app portal of ${project}</a></p>
<p><a href="${backHref}">Back to ${project}</a></p>`,
  });
}
