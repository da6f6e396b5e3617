/** How an event reached the relay; stored with the notification (and a quarantined message). */
export type TransportKind = "body" | "push_wrapped" | "push_unwrapped" | "pull";

export interface Transport {
  kind: TransportKind;
  /** Pub/Sub message id (push and pull). */
  pubsubMessageId?: string;
  /** Full subscription name, e.g. projects/p/subscriptions/s. */
  subscription?: string;
  /** Pub/Sub's delivery attempt counter (only sent when a dead-letter policy is set). */
  deliveryAttempt?: number;
  /** When Pub/Sub received the message from the publisher (RFC 3339). */
  publishTime?: string;
}

/** True when the message came through Pub/Sub, which must get an acknowledgement for anything recorded. */
export function isPubsub(transport: Transport): boolean {
  return transport.kind !== "body";
}
