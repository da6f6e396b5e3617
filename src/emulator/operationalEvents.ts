import type { EmulatedAttempt, EmulatedEndpoint } from "./endpointModel.ts";
import type { EmulatedApp, EmulatedMessage } from "./emulatorState.ts";

// Bodies of Svix's operational webhooks, field for field as the OpenAPI spec defines them
// (MessageAttemptExhaustedEvent, MessageAttemptFailingEvent, MessageAttemptRecoveredEvent,
// EndpointDisabledEvent, EndpointEnabledEvent).

/** MessageAttemptFailedData: the attempt the event is about. */
export interface LastAttempt {
  id: string;
  /** ISO 8601 date-time. */
  timestamp: string;
  /** 0 when no HTTP answer came. */
  responseStatusCode: number;
}

export interface MessageAttemptEventData {
  appId: string;
  appUid: string | null;
  msgId: string;
  msgEventId: string | null;
  endpointId: string;
  lastAttempt: LastAttempt;
}

export interface EndpointDisabledEventData {
  appId: string;
  appUid: string | null;
  endpointId: string;
  endpointUid: string | null;
  /** ISO 8601: the first failure since the endpoint last succeeded; null when disabled by hand. */
  failSince: string | null;
  trigger: "automatic" | "manual";
}

export interface EndpointEnabledEventData {
  appId: string;
  appUid: string | null;
  endpointId: string;
  endpointUid: string | null;
}

export type MessageAttemptEventType =
  | "message.attempt.exhausted"
  | "message.attempt.failing"
  | "message.attempt.recovered";

export type OperationalEvent =
  | { type: MessageAttemptEventType; data: MessageAttemptEventData }
  | { type: "endpoint.disabled"; data: EndpointDisabledEventData }
  | { type: "endpoint.enabled"; data: EndpointEnabledEventData };

export function messageAttemptEvent(
  type: MessageAttemptEventType,
  app: EmulatedApp,
  msg: EmulatedMessage,
  attempt: EmulatedAttempt,
): OperationalEvent {
  return {
    type,
    data: {
      appId: app.id,
      appUid: app.uid,
      msgId: msg.id,
      msgEventId: msg.eventId,
      endpointId: attempt.endpointId,
      lastAttempt: { id: attempt.id, timestamp: attempt.timestamp, responseStatusCode: attempt.responseStatusCode },
    },
  };
}

export function endpointDisabledEvent(
  app: EmulatedApp,
  ep: EmulatedEndpoint,
  trigger: "automatic" | "manual",
): OperationalEvent {
  return {
    type: "endpoint.disabled",
    data: {
      appId: app.id,
      appUid: app.uid,
      endpointId: ep.id,
      endpointUid: ep.uid,
      failSince: trigger === "automatic" ? ep.failSince : null,
      trigger,
    },
  };
}

export function endpointEnabledEvent(app: EmulatedApp, ep: EmulatedEndpoint): OperationalEvent {
  return { type: "endpoint.enabled", data: { appId: app.id, appUid: app.uid, endpointId: ep.id, endpointUid: ep.uid } };
}
