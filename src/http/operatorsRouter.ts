import express, { type Request, type Response, Router } from "express";
import { AppError } from "../errors.ts";
import { jsonOnly } from "./jsonOnly.ts";
import { type AppPortalService, parseAppPortalOptions } from "../core/appPortalService.ts";
import { parseReplayFilter, replayMany } from "../core/bulkReplay.ts";
import { IDENTIFIER_RULE, isStorableIdentifier } from "../core/event.ts";
import type { NotificationService } from "../core/notificationService.ts";
import type { NotificationLedger } from "../core/ports/ledger.ts";

export interface OperatorsRouterOptions {
  service: NotificationService;
  ledger: NotificationLedger;
  appPortal: AppPortalService;
}

/** Small JSON bodies only: these routes take a filter or a few options, never an event. */
const readSmallJson = express.json({ limit: "16kb", strict: true, type: () => true, inflate: false });

/** Operators' routes beyond the audit: app-portal links for the customer dashboard, bulk replay. */
export function operatorsRouter(options: OperatorsRouterOptions): Router {
  const router = Router();

  router.post(
    "/projects/:projectId/app-portal",
    jsonOnly({ bodyless: true }),
    readSmallJson,
    async (req: Request, res: Response) => {
      const project = String(req.params.projectId);
      if (!isStorableIdentifier(project)) {
        throw new AppError("invalid_query", "Invalid project id", {
          details: [{ path: "projectId", message: `must be 1 to 256 characters and ${IDENTIFIER_RULE}` }],
        });
      }
      const link = await options.appPortal.link(project, parseAppPortalOptions(req.body));
      res.json({ data: link });
    },
  );

  router.post("/notifications/replay", jsonOnly(), readSmallJson, async (req: Request, res: Response) => {
    const summary = await replayMany(options.service, options.ledger, parseReplayFilter(req.body));
    res.json({ data: summary });
  });

  return router;
}
