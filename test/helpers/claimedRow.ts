// A notification row as a process leaves it between its claim and its Svix call: `received`,
// claimed by `claimToken` until `claimExpiresAt` — in flight, or left behind by a crash.
import type { PlatformEvent } from "../../src/core/event.ts";
import { eventDigest } from "../../src/core/eventDigest.ts";
import type { NotificationLedger } from "../../src/core/ports/ledger.ts";
import { makeEvent } from "./events.ts";

/** Inserts `event` (a fresh one by default) claimed as described, and returns it. */
export async function insertClaimed(
  ledger: Pick<NotificationLedger, "insert">,
  claim: { claimToken: string; claimExpiresAt: Date; event?: PlatformEvent },
): Promise<PlatformEvent> {
  const event = claim.event ?? makeEvent();
  await ledger.insert({
    event,
    transport: { kind: "body" },
    payloadDigest: eventDigest(event),
    status: "received",
    claimToken: claim.claimToken,
    claimExpiresAt: claim.claimExpiresAt,
  });
  return event;
}
