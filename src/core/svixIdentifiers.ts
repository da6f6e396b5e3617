import { createHash } from "node:crypto";

// Svix ids (application uid, message eventId) are 1..256 characters of [a-zA-Z0-9-_.].
const SVIX_ID = /^[a-zA-Z0-9\-_.]{1,256}$/;

function digest(value: string): string {
  return createHash("sha256").update(value).digest("hex").slice(0, 40);
}

/** The Svix application uid of a project: the project id itself, or a stable digest when Svix cannot take it. */
export function appUidFor(project: string): string {
  return SVIX_ID.test(project) ? project : `prj_${digest(project)}`;
}

/** The Svix eventId of an event: its id, or a stable digest when Svix cannot take it. */
export function svixEventIdFor(eventId: string): string {
  return SVIX_ID.test(eventId) ? eventId : `evt_${digest(eventId)}`;
}

/** Same event, same key: a retry after a crash gets Svix's first answer instead of a new message. */
export function idempotencyKeyFor(project: string, eventId: string): string {
  return `gigs-relay-msg-${digest(`${project}\u0000${eventId}`)}`;
}
