import express, { type Request, type Response, Router } from "express";
import type { EmulatorState } from "./emulatorState.ts";
import { type CallRecord, type FaultPlan, type FaultRule, isFaultProbability, type RateLimit } from "./faults.ts";
import {
  type OperationalWebhookConfig,
  type OperationalWebhookSender,
  operationalConfigProblem,
} from "./operationalWebhooks.ts";

/** What the control API drives: the emulator's parts, declared here so the emulator can mount this router. */
export interface EmulatorControls {
  readonly state: EmulatorState;
  readonly faults: FaultPlan;
  readonly calls: CallRecord[];
  readonly operational: OperationalWebhookSender;
  reset(): void;
}

const KINDS = new Set(["status", "hang", "reset", "latency"]);

function badRequest(res: Response, detail: string): void {
  res.status(400).json({ code: "bad_request", detail });
}

/**
 * `/_emulator/*`: drive the emulator from outside the process (curl, another test runner):
 * add faults, set a rate limit, read what it received, point operational webhooks somewhere.
 * Not part of Svix's API.
 */
export function controlRouter(emulator: EmulatorControls): Router {
  const router = Router();
  // Not strict: `null` is a valid body here (it removes a rate limit or the operational webhook).
  router.use("/_emulator", express.json({ strict: false }));
  router.post("/_emulator/faults", (req: Request, res: Response) => {
    const rules = (Array.isArray(req.body) ? req.body : [req.body]) as FaultRule[];
    if (rules.some((r) => !r || typeof r !== "object" || !KINDS.has(r.kind))) {
      return badRequest(res, "each fault needs kind: status | hang | reset | latency");
    }
    if (rules.some((r) => !isFaultProbability(r.probability))) {
      return badRequest(res, "probability must be a number from 0 to 1");
    }
    emulator.faults.add(...rules);
    res.status(201).json({ added: rules.length });
  });
  router.put("/_emulator/rate-limit", (req: Request, res: Response) => {
    const limit = req.body as RateLimit | null;
    if (limit !== null && !(Number.isInteger(limit?.perSecond) && limit.perSecond > 0)) {
      return badRequest(res, "perSecond must be a positive integer (or send null to remove the limit)");
    }
    emulator.faults.setRateLimit(limit ?? undefined);
    res.json({ rateLimit: limit });
  });
  router.delete("/_emulator/faults", (_req: Request, res: Response) => {
    emulator.faults.clear();
    res.status(204).end();
  });
  router.post("/_emulator/reset", (_req: Request, res: Response) => {
    emulator.reset();
    res.status(204).end();
  });
  router.put("/_emulator/operational-webhook", (req: Request, res: Response) => {
    const config = req.body as OperationalWebhookConfig | null;
    const problem = config === null ? undefined : operationalConfigProblem(config);
    if (problem) return badRequest(res, problem);
    emulator.operational.configure(config);
    res.json({ url: emulator.operational.url });
  });
  // The secret is never echoed: this answer may end up in a terminal or a CI log.
  router.get("/_emulator/operational-webhook", (_req: Request, res: Response) => {
    res.json({ url: emulator.operational.url, deliveries: emulator.operational.deliveries });
  });
  router.get("/_emulator/calls", (_req: Request, res: Response) => void res.json({ data: emulator.calls }));
  router.get("/_emulator/messages", (_req: Request, res: Response) => {
    const messages = emulator.state.allMessages();
    const byEvent = new Map<string, number>();
    for (const m of messages) if (m.eventId) byEvent.set(m.eventId, (byEvent.get(m.eventId) ?? 0) + 1);
    res.json({
      count: messages.length,
      duplicates: [...byEvent].filter(([, n]) => n > 1).map(([eventId, n]) => ({ eventId, count: n })),
      data: messages.map(({ payload: _payload, ...m }) => m),
    });
  });
  return router;
}
