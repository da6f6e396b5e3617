// What Svix reported about delivery to customers' endpoints: implemented by src/db/deliveryEventStore.ts.

/** What Svix reported about delivery to a customer's endpoints (an operational webhook). */
export interface DeliveryEvent {
  svixId: string;
  type: string;
  eventId: string | null;
  appUid: string | null;
  project: string | null;
  msgId: string | null;
  endpointId: string | null;
  responseStatus: number | null;
  occurredAt: Date;
}

export interface DeliveryEventView extends DeliveryEvent {
  receivedAt: Date;
}

export interface DeliveryEventLedger {
  /** Stores it once per svixId; false when it was stored before (Svix redelivered it). */
  add(event: DeliveryEvent): Promise<boolean>;
  forNotification(eventId: string): Promise<DeliveryEventView[]>;
  /** Newest first, optionally for one project. */
  recent(filter: { project?: string; limit: number }): Promise<DeliveryEventView[]>;
  /** The notification a Svix message belongs to: by Svix's eventId (our event id), else by message id. */
  notificationOf(msgEventId: string | null, msgId: string | null): Promise<{ eventId: string; project: string } | null>;
}

/** A Svix operational webhook, verified: what Svix says happened to a message or an endpoint. */
export interface OperationalEvent {
  /** svix-id: the same for every redelivery of this webhook. */
  svixId: string;
  type: string;
  data: Record<string, unknown>;
}

/** Checks that an operational webhook comes from Svix (implemented by src/svix with the SDK). */
export interface OperationalWebhookCheck {
  /**
   * What can be checked before the body is read: the svix-id, svix-timestamp (within Svix's
   * 5-minute tolerance) and svix-signature headers are there and well formed. AppError
   * unauthorized otherwise.
   */
  checkHeaders(header: (name: string) => string | undefined): void;
  /** The event, once its signature and timestamp are verified; AppError unauthorized otherwise. */
  verify(rawBody: Buffer, header: (name: string) => string | undefined): OperationalEvent;
}
