// The verdict of a chaos run, from what the run itself published and what Svix, the quarantine,
// the ledger and Pub/Sub hold afterwards — never from the relay's own account of what it did.
// Pure: the runner gathers the inputs.
import { appUidFor, svixEventIdFor } from "../src/core/svixIdentifiers.ts";

export interface PublishedEvent {
  id: string;
  project: string;
}

/** A message Svix holds: its application's uid and the message's eventId. */
export interface SvixMessage {
  appUid: string | null;
  eventId: string | null;
}

export interface PoisonMessage {
  /** The id Pub/Sub gave the message when it was published. */
  messageId: string;
  kind: "invalid_json" | "invalid_event" | "event_id_conflict";
}

export interface CheckInput {
  /** Every unique valid event published (published twice or not). */
  events: readonly PublishedEvent[];
  /** Event ids whose publishing failed: they may or may not have arrived, so neither lost nor foreign. */
  uncertain?: ReadonlySet<string>;
  svix: readonly SvixMessage[];
  poison: readonly PoisonMessage[];
  /** Pub/Sub message ids of the quarantined messages. */
  quarantined: ReadonlySet<string>;
  /** event id → status, from the ledger; undefined when it could not be read. */
  ledger?: ReadonlyMap<string, string>;
  /** Messages still unacknowledged on the subscriptions after the drain. */
  unacked: number;
}

export interface CheckResult {
  /** Messages Svix holds, all of them. */
  inSvix: number;
  /** Valid events Svix does not hold. */
  lost: string[];
  /** Valid events Svix holds more than once. */
  duplicated: Array<{ eventId: string; count: number }>;
  /** Messages Svix holds that match no published event (in its project's application). */
  foreign: SvixMessage[];
  /** Poison messages missing from the quarantine. */
  unquarantined: PoisonMessage[];
  /** Valid events the ledger does not show as delivered (status "missing" when it has no row). */
  notDelivered: Array<{ eventId: string; status: string }>;
  unacked: number;
  ok: boolean;
  /** One line per failed check. */
  problems: string[];
}

function key(appUid: string | null, eventId: string | null): string {
  return `${appUid ?? ""}\u0000${eventId ?? ""}`;
}

export function check(input: CheckInput): CheckResult {
  const expected = new Map<string, PublishedEvent>();
  for (const event of input.events) expected.set(key(appUidFor(event.project), svixEventIdFor(event.id)), event);
  const uncertain = new Set([...(input.uncertain ?? [])].map((id) => svixEventIdFor(id)));

  const counts = new Map<string, number>();
  const foreign: SvixMessage[] = [];
  for (const message of input.svix) {
    const k = key(message.appUid, message.eventId);
    if (expected.has(k)) counts.set(k, (counts.get(k) ?? 0) + 1);
    else if (!(message.eventId !== null && uncertain.has(message.eventId))) foreign.push(message);
  }
  const lost: string[] = [];
  const duplicated: Array<{ eventId: string; count: number }> = [];
  for (const [k, event] of expected) {
    const count = counts.get(k) ?? 0;
    if (count === 0) lost.push(event.id);
    else if (count > 1) duplicated.push({ eventId: event.id, count });
  }
  const unquarantined = input.poison.filter((p) => !input.quarantined.has(p.messageId));
  const notDelivered: Array<{ eventId: string; status: string }> = [];
  if (input.ledger) {
    for (const event of input.events) {
      const status = input.ledger.get(event.id) ?? "missing";
      if (status !== "delivered") notDelivered.push({ eventId: event.id, status });
    }
  }

  const problems: string[] = [];
  const sample = (ids: string[]) => ids.slice(0, 10).join(", ") + (ids.length > 10 ? ", …" : "");
  if (lost.length > 0) problems.push(`${lost.length} event(s) lost (not in Svix): ${sample(lost)}`);
  if (duplicated.length > 0)
    problems.push(
      `${duplicated.length} event(s) duplicated in Svix: ${sample(duplicated.map((d) => `${d.eventId} ×${d.count}`))}`,
    );
  if (foreign.length > 0)
    problems.push(
      `${foreign.length} message(s) in Svix that were not published: ${sample(foreign.map((f) => `${f.appUid}/${f.eventId}`))}`,
    );
  if (unquarantined.length > 0)
    problems.push(
      `${unquarantined.length} poison message(s) not quarantined: ${sample(unquarantined.map((p) => `${p.messageId} (${p.kind})`))}`,
    );
  if (input.ledger === undefined) problems.push("the ledger could not be read");
  else if (notDelivered.length > 0)
    problems.push(
      `${notDelivered.length} event(s) not delivered in the ledger: ${sample(notDelivered.map((n) => `${n.eventId} (${n.status})`))}`,
    );
  if (input.unacked > 0) problems.push(`${input.unacked} message(s) left unacknowledged on the subscriptions`);

  return {
    inSvix: input.svix.length,
    lost,
    duplicated,
    foreign,
    unquarantined,
    notDelivered,
    unacked: input.unacked,
    ok: problems.length === 0,
    problems,
  };
}
