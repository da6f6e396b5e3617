// projects: the steady load with every event in a different project out of 10,000 (a new Svix
// application per project, a cold cache entry each time round), against all events in one
// project. The forwarder runs the same two loads: its ratio shows what the emulator itself
// makes of 10,000 applications, so that the relay is not blamed for it.
import {
  eventSource,
  measurePhase,
  pool,
  type BenchContext,
  type PhaseResult,
  type Pooled,
  type Service,
} from "../measure.ts";
import type { BenchEvent } from "../load.ts";

export const PROJECT_COUNT = 10_000;

export interface ProjectsOptions {
  connections: number;
  duration: number;
  rounds: number;
}

export interface ProjectsResult {
  relay: { one: Pooled; many: Pooled; ratio: number };
  forwarder: { one: Pooled; many: Pooled; ratio: number };
  phases: PhaseResult[];
}

export async function runProjects(ctx: BenchContext, o: ProjectsOptions): Promise<ProjectsResult> {
  ctx.say(
    `projects: one project vs ${PROJECT_COUNT.toLocaleString("en")} projects, ${o.connections} connections, ${o.rounds} × ${o.duration} s each\n`,
  );
  // One sequence for the whole scenario: consecutive events land in consecutive projects, and the
  // later rounds come back to projects the relay has seen, as a real fleet of projects would.
  const sources: Record<"one" | "many", () => BenchEvent> = {
    one: eventSource(ctx, () => "bench-one-project"),
    many: eventSource(ctx, (n) => `bench-p-${n % PROJECT_COUNT}`),
  };
  const phases: PhaseResult[] = [];
  for (let round = 0; round < o.rounds; round++) {
    const kinds: Array<"one" | "many"> = round % 2 === 0 ? ["one", "many"] : ["many", "one"];
    for (const kind of kinds) {
      for (const service of [ctx.forwarder, ctx.relay] satisfies Service[]) {
        phases.push(
          await measurePhase(ctx, service, {
            label: `projects-${kind}`,
            connections: o.connections,
            duration: o.duration,
            nextEvent: sources[kind],
          }),
        );
      }
    }
  }
  const both = (name: Service["name"]) => {
    const one = pool(phases, name, "projects-one");
    const many = pool(phases, name, "projects-many");
    return { one, many, ratio: many.eventsPerSec / one.eventsPerSec };
  };
  return { relay: both("relay"), forwarder: both("forwarder"), phases };
}
