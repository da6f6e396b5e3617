import { html } from "../html.ts";
import { page } from "../layout.ts";

export interface LoginPageOptions {
  /** The dashboard page to go to after logging in. */
  next: string;
  error?: string;
  /** False when no operator token is configured: say so instead of offering a form that cannot work. */
  loginPossible: boolean;
}

/** The only thing shown without a session: no data at all. */
export function loginPage(options: LoginPageOptions): string {
  const body = options.loginPossible
    ? html`${options.error ? html`<p class="notice warn" role="alert">${options.error}</p>` : ""}
<form method="post" action="/dashboard/login">
<input type="hidden" name="next" value="${options.next}">
<p><label for="token">Operator token (one of API_TOKENS)</label><br>
<input id="token" type="password" name="token" autocomplete="current-password" required maxlength="1024" autofocus></p>
<p><button type="submit">Log in</button></p>
</form>
<p class="muted">The session lasts 8 hours, for this browser only; changing API_TOKENS ends every session.</p>`
    : html`<p class="notice warn">No operator token is configured (API_TOKENS), so nobody can log in to the dashboard.</p>`;
  return page({ title: "Log in", body });
}
