/** How an event reached the relay; stored with the notification and each attempt. */
export type TransportKind = "body" | "push_wrapped" | "push_unwrapped";

export interface Transport {
  kind: TransportKind;
  /** Pub/Sub message id, for push deliveries. */
  pubsubMessageId?: string;
  /** Full subscription name, e.g. projects/p/subscriptions/s. */
  subscription?: string;
  /** Pub/Sub's delivery attempt counter (only sent when a dead-letter policy is set). */
  deliveryAttempt?: number;
  publishTime?: string;
}
