import express, { type NextFunction, type Request, type Response } from "express";
import { AppError } from "../errors.ts";
import { toAppError } from "../http/errorHandler.ts";
import { httpStatusOf } from "../http/errorStatus.ts";
import { crossSite, type DashboardGate, type Viewer } from "./gate.ts";
import { STYLE_HASH } from "./layout.ts";
import { loginPage } from "./pages/loginPage.ts";
import { messagePage } from "./pages/messagePage.ts";

/** Forms post a few short fields; nothing larger is read. */
export const formBody = express.urlencoded({ extended: false, limit: "8kb", parameterLimit: 10, inflate: false });

const CSP = [
  "default-src 'none'",
  `style-src ${STYLE_HASH}`,
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join("; ");

/** Every dashboard answer: no script, no framing, no caching (the pages show operational data). */
export function securityHeaders(_req: Request, res: Response, next: NextFunction): void {
  res.setHeader("content-security-policy", CSP);
  res.setHeader("x-frame-options", "DENY");
  res.setHeader("cache-control", "no-store");
  res.setHeader("x-content-type-options", "nosniff");
  // Not no-referrer: with it, browsers send `Origin: null` on our own form posts, which look cross-site then.
  res.setHeader("referrer-policy", "same-origin");
  next();
}

export function sendPage(res: Response, status: number, body: string): void {
  res.status(status).type("html").send(body);
}

export function viewerOf(res: Response): Viewer {
  return res.locals.viewer as Viewer;
}

export function formField(req: Request, name: string): string | undefined {
  const value = (req.body as Record<string, unknown> | undefined)?.[name];
  return typeof value === "string" ? value : undefined;
}

/**
 * Where to go after logging in: a dashboard path of ours, never another site (no "//", "\",
 * dot segments or whitespace that a browser might resolve elsewhere).
 */
export function safeNext(value: unknown): string {
  if (typeof value !== "string" || value.length > 2048) return "/dashboard";
  if (!/^\/dashboard(?:[/?]|$)/.test(value) || /[\\\s]|\/\/|\/\.|[^\x21-\x7e]/.test(value)) return "/dashboard";
  return value;
}

/** Finds the viewer (a valid session, or open mode); without one a page shows the login form and no data. */
export function requireViewer(gate: DashboardGate) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const viewer = gate.viewer(req);
    if (viewer) {
      res.locals.viewer = viewer;
      return next();
    }
    const nextPage = req.method === "GET" ? safeNext(req.originalUrl) : "/dashboard";
    sendPage(res, 401, loginPage({ next: nextPage, loginPossible: gate.loginPossible }));
  };
}

/** A state-changing request from another site is refused before its body is read. */
export function refuseCrossSite(req: Request, res: Response, next: NextFunction): void {
  if (!crossSite(req)) return next();
  (res as Response & { err?: unknown }).err = new AppError("forbidden", "Cross-site dashboard post refused");
  sendPage(
    res,
    403,
    messagePage({
      title: "Refused",
      message: "This request came from another site: nothing was done.",
      links: [{ href: "/dashboard", label: "Overview" }],
    }),
  );
}

/** The posted CSRF token must be the one this session's pages carry. */
export function requireCsrf(gate: DashboardGate) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const viewer = viewerOf(res);
    if (gate.csrfValid(viewer, formField(req, "csrf"))) return next();
    (res as Response & { err?: unknown }).err = new AppError("forbidden", "Dashboard post without a valid CSRF token");
    sendPage(
      res,
      403,
      messagePage({
        title: "Refused",
        viewer,
        message:
          "The form's security token is missing or out of date: nothing was done. Reload the page and try again.",
        links: [{ href: "/dashboard", label: "Overview" }],
      }),
    );
  };
}

export function notFoundPage(req: Request, res: Response): void {
  sendPage(
    res,
    404,
    messagePage({
      title: "Not found",
      viewer: viewerOf(res),
      message: `No dashboard page at ${req.originalUrl.split("?")[0]}.`,
      links: [{ href: "/dashboard", label: "Overview" }],
    }),
  );
}

/** Errors as pages; the request logger still gets the error (res.err), as on the JSON API. */
export function dashboardErrorHandler(error: unknown, _req: Request, res: Response, _next: NextFunction): void {
  const appError = toAppError(error);
  (res as Response & { err?: unknown }).err = appError;
  if (res.headersSent) return void res.end();
  if (appError.retryable) res.setHeader("retry-after", String(Math.max(1, Math.ceil(appError.retryAfterSeconds ?? 1))));
  const status = httpStatusOf(appError.code);
  const title = status >= 500 ? "Something failed" : "Cannot do that";
  sendPage(
    res,
    status,
    messagePage({
      title,
      viewer: res.locals.viewer as Viewer | undefined,
      message: `${appError.message} (${appError.code})`,
      links: [{ href: "/dashboard", label: "Overview" }],
    }),
  );
}
