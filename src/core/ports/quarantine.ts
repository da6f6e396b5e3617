// Where Pub/Sub messages that can never be delivered are kept: implemented by src/db/quarantineStore.ts.
import type { ErrorDetail } from "../../errors.ts";
import type { Transport } from "../transport.ts";

/** Why a Pub/Sub message was quarantined: the code of the error that stopped it. */
export type QuarantineReason =
  | "invalid_json"
  | "invalid_envelope"
  | "invalid_event"
  | "event_id_conflict"
  | "payload_too_large"
  /** UNDECLARED_EVENT_TYPES=reject: a type not in schemas/event-types.json. */
  | "undeclared_event_type";

export interface QuarantineEntry {
  reason: QuarantineReason;
  message: string;
  details: ErrorDetail[];
  transport: Transport;
  eventId?: string;
  /** The body as received (the store keeps at most 64 KiB of it). */
  body: Buffer;
}

export interface QuarantinedMessage extends Omit<QuarantineEntry, "body"> {
  id: string;
  /** Null once purged. */
  body: Buffer | null;
  bodyBytes: number;
  /** When retention cleared the body, message and details (they quote the body); null until then. */
  purgedAt: Date | null;
  receivedAt: Date;
}

export interface QuarantineLedger {
  /** Records the message; a redelivery of one already quarantined (same subscription and message id) is recorded once. */
  add(entry: QuarantineEntry): Promise<{ id: string; duplicate: boolean }>;
  /** Newest first (arrival, then id, descending); `after`: continue after that message (older than it). */
  list(filter: { limit: number; after?: { receivedAt: Date; id: string } }): Promise<QuarantinedMessage[]>;
  /** How many messages were quarantined since `since` (the dashboard). */
  countSince(since: Date): Promise<number>;
}
