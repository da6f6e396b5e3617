import { createHash } from "node:crypto";

// Svix ids (application uid, message eventId) are 1..256 characters of [a-zA-Z0-9-_.].
const SVIX_ID = /^[a-zA-Z0-9\-_.]{1,256}$/;
// Svix's pattern lets "." and ".." through, but as a path segment they are dot-segments: every URL
// parser (the svix SDK's `new URL()` among them) removes them, so `/api/v1/app/../msg` is sent as
// `/api/v1/msg`. Percent-encoding does not help: "%2e" is a dot-segment too. Any run of dots only
// is treated alike, so no parser's idea of a dot-segment matters.
const ONLY_DOTS = /^\.+$/;
// Svix reads an application path segment as its own id or as a uid: a project named like another
// application's id (`app_` + 27 characters, which an app-portal URL shows) would address that
// customer's application. Such a project gets a digest uid instead.
const SVIX_APP_ID = /^app_[0-9A-Za-z]{27}$/;

/**
 * True when a value can stand as one Svix path segment and as a Svix id: Svix's uid pattern, and
 * not only dots. Every other value (a `/ ? # %`, a space, a non-ASCII letter, 257 characters,
 * "..") is given a digest instead.
 */
export function isSafeSvixId(value: string): boolean {
  return SVIX_ID.test(value) && !ONLY_DOTS.test(value);
}

function digest(value: string): string {
  return createHash("sha256").update(value).digest("hex").slice(0, 40);
}

/**
 * The Svix application uid of a project: the project id itself, or a stable digest when it is
 * not a safe Svix id. Every id that was kept before dot-only ids were digested is kept still: a
 * changed uid would send a project's events to a second application.
 */
export function appUidFor(project: string): string {
  return isSafeSvixId(project) && !SVIX_APP_ID.test(project) ? project : `prj_${digest(project)}`;
}

/** The Svix eventId of an event (Svix also accepts it in a message's path): its id, or a stable digest. */
export function svixEventIdFor(eventId: string): string {
  return isSafeSvixId(eventId) ? eventId : `evt_${digest(eventId)}`;
}

/** Same event, same key: a retry after a crash gets Svix's first answer instead of a new message. */
export function idempotencyKeyFor(project: string, eventId: string): string {
  return `gigs-relay-msg-${digest(`${project}\u0000${eventId}`)}`;
}
