import { type Request, type Response, Router } from "express";
import { clientOf } from "../auth/authenticate.ts";
import { AppError } from "../errors.ts";
import type { AppPortalService } from "../core/appPortalService.ts";
import { replayMany, type ReplayFilter } from "../core/bulkReplay.ts";
import { IDENTIFIER_RULE, isStorableIdentifier } from "../core/event.ts";
import type { NotificationService } from "../core/notificationService.ts";
import type { DeliveryEventLedger } from "../core/ports/deliveryEvents.ts";
import type { NotificationLedger } from "../core/ports/ledger.ts";
import type { QuarantineLedger } from "../core/ports/quarantine.ts";
import { DashboardQueries } from "./dashboardData.ts";
import { DashboardGate, type DashboardAccess } from "./gate.ts";
import { html, type SafeHtml } from "./html.ts";
import { notificationHref, projectHref } from "./layout.ts";
import {
  dashboardErrorHandler,
  formBody,
  formField,
  notFoundPage,
  refuseCrossSite,
  requireCsrf,
  requireViewer,
  safeNext,
  securityHeaders,
  sendPage,
  viewerOf,
} from "./middleware.ts";
import { loginPage } from "./pages/loginPage.ts";
import { appPortalPage } from "./pages/messagePage.ts";
import { notificationPage } from "./pages/notificationPage.ts";
import { overviewPage } from "./pages/overviewPage.ts";
import { projectPage } from "./pages/projectPage.ts";
import { quarantinePage } from "./pages/quarantinePage.ts";

export interface DashboardRouterOptions {
  service: NotificationService;
  ledger: NotificationLedger;
  quarantine: QuarantineLedger;
  deliveryEvents: DeliveryEventLedger;
  appPortal: AppPortalService;
  access: DashboardAccess;
  /** GOOGLE_CLOUD_PROJECT: trace ids link to Cloud Trace. */
  traceProject?: string;
}

/** Every route carries its full path, so the app's route list shows them as the dashboard's. */
const BASE = "/dashboard";

/** Replayed per press of "Replay all failed", per status: the request stays short. */
const BULK_REPLAY_LIMIT = 100;
/** Operators open a customer's portal to look, briefly: the shortest link Svix gives. */
const APP_PORTAL_EXPIRY_SECONDS = 3600;

function identifier(value: unknown, what: string): string {
  const text = String(value);
  if (!isStorableIdentifier(text))
    throw new AppError("invalid_query", `Invalid ${what}: must be 1 to 256 characters and ${IDENTIFIER_RULE}`);
  return text;
}

/** The bulk replay's outcome, carried through the redirect as four numbers (nothing else is shown). */
function replayNotice(value: unknown): SafeHtml | undefined {
  const match = typeof value === "string" ? /^(\d{1,5})-(\d{1,5})-(\d{1,5})-(\d{1,5})$/.exec(value) : null;
  if (!match) return undefined;
  const [, matched, delivered, stillFailing, skipped] = match;
  return html`<p class="notice" role="status">Replayed ${matched}: ${delivered} delivered, ${stillFailing} still failing, ${skipped} skipped (delivered meanwhile, in flight, or erased).</p>`;
}

/**
 * GET /dashboard…: server-rendered pages for operators, over the same services as the JSON API.
 * Used before the API's authentication: it checks its own session cookie, which nothing else
 * accepts, and every post needs the session's CSRF token and a same-site origin.
 */
export function dashboardRouter(options: DashboardRouterOptions): Router {
  const router = Router();
  const gate = new DashboardGate(options.access);
  const queries = new DashboardQueries({
    ledger: options.ledger,
    quarantine: options.quarantine,
    deliveryEvents: options.deliveryEvents,
    clock: options.access.clock,
  });
  // Every post past the login: a same-site origin, then the session's CSRF token.
  const guarded = [refuseCrossSite, formBody, requireCsrf(gate)];

  router.use(BASE, securityHeaders);

  router.get(`${BASE}/login`, (req: Request, res: Response) => {
    if (gate.viewer(req)) return res.redirect(303, "/dashboard");
    sendPage(res, 200, loginPage({ next: safeNext(req.query.next), loginPossible: gate.loginPossible }));
  });

  router.post(`${BASE}/login`, refuseCrossSite, formBody, (req: Request, res: Response) => {
    const next = safeNext(formField(req, "next"));
    const { throttle } = options.access;
    const client = clientOf(req);
    const waitMs = throttle?.waitMs(client) ?? 0;
    if (waitMs > 0) {
      options.access.onThrottled?.();
      res.setHeader("retry-after", String(Math.ceil(waitMs / 1000)));
      return sendPage(
        res,
        429,
        loginPage({
          next,
          error: `Too many wrong tokens from here: try again in ${Math.ceil(waitMs / 60_000)} minute(s).`,
          loginPossible: gate.loginPossible,
        }),
      );
    }
    if (!gate.login(req, res, formField(req, "token"))) {
      if (gate.loginPossible) {
        throttle?.failed(client);
        options.access.onFailure?.();
      }
      return sendPage(
        res,
        401,
        loginPage({ next, error: "That is not an operator token.", loginPossible: gate.loginPossible }),
      );
    }
    res.redirect(303, next);
  });

  router.use(BASE, requireViewer(gate));

  router.post(`${BASE}/logout`, ...guarded, (req: Request, res: Response) => {
    gate.logout(req, res);
    res.redirect(303, "/dashboard/login");
  });

  router.get(BASE, async (_req: Request, res: Response) => {
    sendPage(res, 200, overviewPage(viewerOf(res), await queries.overview()));
  });

  // "Did customer X get event Y?": an event id opens its notification, anything else a project.
  router.get(`${BASE}/find`, async (req: Request, res: Response) => {
    const q = identifier(typeof req.query.q === "string" ? req.query.q.trim() : "", "event id or project");
    const known = await options.ledger.summary(q);
    res.redirect(303, known ? notificationHref(q) : projectHref(q));
  });

  router.get(`${BASE}/quarantine`, async (_req: Request, res: Response) => {
    sendPage(res, 200, quarantinePage(viewerOf(res), await queries.quarantined()));
  });

  router.get(`${BASE}/projects/:project`, async (req: Request, res: Response) => {
    const data = await queries.project(identifier(req.params.project, "project id"));
    sendPage(res, 200, projectPage(viewerOf(res), data, replayNotice(req.query.replayed)));
  });

  router.get(`${BASE}/notifications/:eventId`, async (req: Request, res: Response) => {
    const eventId = identifier(req.params.eventId, "event id");
    const data = await queries.notification(eventId);
    if (!data) throw new AppError("not_found", `No notification for event ${eventId}`);
    const notice =
      req.query.replayed === "1"
        ? html`<p class="notice" role="status">Replayed just now: the status below is what came of it.</p>`
        : undefined;
    sendPage(res, 200, notificationPage(viewerOf(res), data, notice, options.traceProject));
  });

  router.post(`${BASE}/notifications/:eventId/replay`, ...guarded, async (req: Request, res: Response) => {
    const eventId = identifier(req.params.eventId, "event id");
    await options.service.replay(eventId);
    res.redirect(303, `${notificationHref(eventId)}?replayed=1`);
  });

  // Queued (Svix still failing) and failed (the dispatcher gave up) together; rejected apart.
  router.post(`${BASE}/projects/:project/replay`, ...guarded, async (req: Request, res: Response) => {
    const project = identifier(req.params.project, "project id");
    const which = formField(req, "which");
    const statuses: ReplayFilter["status"][] | undefined =
      which === "failed" ? ["queued", "failed"] : which === "rejected" ? ["rejected"] : undefined;
    if (!statuses) throw new AppError("invalid_request", "Say which notifications to replay: failed or rejected");
    const total = { matched: 0, delivered: 0, stillFailing: 0, skipped: 0 };
    for (const status of statuses) {
      const s = await replayMany(options.service, options.ledger, { status, project, limit: BULK_REPLAY_LIMIT });
      total.matched += s.matched;
      total.delivered += s.delivered;
      total.stillFailing += s.stillFailing;
      total.skipped += s.skippedDelivered + s.skippedInFlight + s.skippedPurged;
    }
    res.redirect(
      303,
      `${projectHref(project)}?replayed=${total.matched}-${total.delivered}-${total.stillFailing}-${total.skipped}`,
    );
  });

  router.post(`${BASE}/projects/:project/app-portal`, ...guarded, async (req: Request, res: Response) => {
    const project = identifier(req.params.project, "project id");
    const link = await options.appPortal.link(project, { expirySeconds: APP_PORTAL_EXPIRY_SECONDS });
    // Rendered as a link: only a web address, never another scheme, whatever Svix answered.
    if (!/^https?:\/\//i.test(link.url))
      throw new AppError("internal", "Svix answered an app-portal link that is not a web address");
    sendPage(res, 200, appPortalPage(viewerOf(res), project, link, projectHref(project)));
  });

  router.use(BASE, notFoundPage);
  router.use(BASE, dashboardErrorHandler);
  return router;
}
