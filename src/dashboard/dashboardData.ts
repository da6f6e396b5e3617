import type { DeliveryEventLedger, DeliveryEventView } from "../core/ports/deliveryEvents.ts";
import type { AttemptView, NotificationLedger, NotificationStatus, NotificationSummary } from "../core/ports/ledger.ts";
import type { QuarantinedMessage, QuarantineLedger } from "../core/ports/quarantine.ts";
import type { Clock } from "../core/ports/clock.ts";

/** Every list the dashboard shows stops here. */
export const DASHBOARD_ROWS = 50;
/** What Svix reports when a customer's endpoint did not get a message (not the transient ones). */
export const ENDPOINT_PROBLEMS: ReadonlySet<string> = new Set(["message.attempt.exhausted", "endpoint.disabled"]);
/** Statuses an operator has to look at: the dispatcher still trying, given up, refused by Svix. */
export const PROBLEM_STATUSES = ["queued", "failed", "rejected"] as const;

export type StatusCounts = Partial<Record<NotificationStatus, number>>;

export interface ProjectCounts {
  project: string;
  hour: StatusCounts;
  day: StatusCounts;
  dayTotal: number;
}

export interface Overview {
  projects: ProjectCounts[];
  problems: NotificationSummary[];
  endpointProblems: DeliveryEventView[];
  quarantine: { hour: number; day: number; recent: QuarantinedMessage[] };
}

export interface ProjectView {
  project: string;
  counts: ProjectCounts;
  problems: NotificationSummary[];
  recent: NotificationSummary[];
  endpointProblems: DeliveryEventView[];
}

export interface NotificationDetail {
  notification: NotificationSummary;
  attempts: AttemptView[];
  deliveryEvents: DeliveryEventView[];
}

const HOUR_MS = 3_600_000;

/** The ledger reads behind the dashboard's pages: what the JSON API reads, gathered per page. */
export class DashboardQueries {
  private readonly ledger: NotificationLedger;
  private readonly quarantine: QuarantineLedger;
  private readonly deliveryEvents: DeliveryEventLedger;
  private readonly clock: Clock;

  constructor(options: {
    ledger: NotificationLedger;
    quarantine: QuarantineLedger;
    deliveryEvents: DeliveryEventLedger;
    clock: Clock;
  }) {
    this.ledger = options.ledger;
    this.quarantine = options.quarantine;
    this.deliveryEvents = options.deliveryEvents;
    this.clock = options.clock;
  }

  async overview(): Promise<Overview> {
    const now = this.clock.now();
    const [projects, problems, endpointProblems, hour, day, recent] = await Promise.all([
      this.counts(now),
      this.problems(undefined, 20),
      this.endpointProblems(undefined, 20),
      this.quarantine.countSince(new Date(now - HOUR_MS)),
      this.quarantine.countSince(new Date(now - 24 * HOUR_MS)),
      this.quarantine.list({ limit: 5 }),
    ]);
    return { projects, problems, endpointProblems, quarantine: { hour, day, recent } };
  }

  async project(project: string): Promise<ProjectView> {
    const [counts, problems, recent, endpointProblems] = await Promise.all([
      this.counts(this.clock.now(), project),
      this.problems(project, DASHBOARD_ROWS),
      this.ledger.list({ project, limit: 20 }),
      this.endpointProblems(project, DASHBOARD_ROWS),
    ]);
    return {
      project,
      counts: counts[0] ?? { project, hour: {}, day: {}, dayTotal: 0 },
      problems,
      recent,
      endpointProblems,
    };
  }

  async notification(eventId: string): Promise<NotificationDetail | undefined> {
    const notification = await this.ledger.summary(eventId);
    if (!notification) return undefined;
    const [attempts, deliveryEvents] = await Promise.all([
      this.ledger.attemptsOf(eventId),
      this.deliveryEvents.forNotification(eventId),
    ]);
    return {
      notification,
      attempts: attempts.slice(-DASHBOARD_ROWS),
      deliveryEvents: deliveryEvents.slice(-DASHBOARD_ROWS),
    };
  }

  quarantined(): Promise<QuarantinedMessage[]> {
    return this.quarantine.list({ limit: DASHBOARD_ROWS });
  }

  /** Per project, busiest over the last day first: counts by status for the last hour and day. */
  private async counts(now: number, project?: string): Promise<ProjectCounts[]> {
    const [hour, day] = await Promise.all([
      this.ledger.countsByProject(new Date(now - HOUR_MS), { project, limit: DASHBOARD_ROWS }),
      this.ledger.countsByProject(new Date(now - 24 * HOUR_MS), { project, limit: DASHBOARD_ROWS }),
    ]);
    const byProject = new Map<string, ProjectCounts>();
    const entry = (name: string) =>
      byProject.get(name) ?? byProject.set(name, { project: name, hour: {}, day: {}, dayTotal: 0 }).get(name)!;
    for (const row of day) {
      const e = entry(row.project);
      e.day[row.status] = row.count;
      e.dayTotal += row.count;
    }
    // A project busy this hour is busy today; only one just past the bound of the day's is left out.
    for (const row of hour) {
      const e = byProject.get(row.project);
      if (e) e.hour[row.status] = row.count;
    }
    return [...byProject.values()].sort((a, b) => b.dayTotal - a.dayTotal || a.project.localeCompare(b.project));
  }

  /** Queued, failed and rejected notifications, newest first. */
  private async problems(project: string | undefined, limit: number): Promise<NotificationSummary[]> {
    const lists = await Promise.all(PROBLEM_STATUSES.map((status) => this.ledger.list({ status, project, limit })));
    return lists
      .flat()
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.eventId < b.eventId ? 1 : -1))
      .slice(0, limit);
  }

  private async endpointProblems(project: string | undefined, limit: number): Promise<DeliveryEventView[]> {
    // The ledger keeps recovered and enabled reports too; the few latest are enough to find the problems.
    const recent = await this.deliveryEvents.recent({ project, limit: 4 * limit });
    return recent.filter((e) => ENDPOINT_PROBLEMS.has(e.type)).slice(0, limit);
  }
}
