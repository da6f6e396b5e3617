import type { NextFunction, Request, RequestHandler, Response } from "express";

export interface AdmissionOptions {
  /** Event posts handled at once; past it, 503 at once, before the body is read. */
  maxInFlight: number;
  /** A body at least this large (or of unknown length) is "large". */
  largeBodyBytes: number;
  /** Large bodies read and parsed at once; the others wait with their bytes still in the socket. */
  maxLargeInFlight: number;
  /** Told about each post shed (for the periodic summary). */
  onShed?: () => void;
}

/**
 * Admission control for POST /notifications, in front of the body parser: memory is bounded by
 * what is admitted, not by what arrives. Past maxInFlight a request is shed at once (503 +
 * Retry-After: Pub/Sub and internal callers retry); large bodies take turns, so thirty 1 MiB
 * bodies of tiny values cannot be parsed side by side.
 */
export function admission(options: AdmissionOptions): RequestHandler {
  let inFlight = 0;
  let largeInFlight = 0;
  const waiting: Array<() => void> = [];
  const releaseLarge = () => {
    largeInFlight -= 1;
    const next = waiting.shift();
    if (next) {
      largeInFlight += 1;
      next();
    }
  };
  return (req: Request, res: Response, next: NextFunction): void => {
    if (inFlight >= options.maxInFlight) {
      // The cheapest answer there is: under overload this path runs thousands of times a second,
      // so no error object (its stack trace) and no trip through the error handler.
      options.onShed?.();
      res.locals.shed = true;
      res.setHeader("retry-after", "1");
      res.status(503).json({
        error: {
          code: "overloaded",
          message: "The relay is at capacity; try again shortly",
          details: [],
          requestId: String(req.id ?? ""),
        },
      });
      return;
    }
    inFlight += 1;
    const length = Number(req.header("content-length") ?? Number.NaN);
    const large = !(length < options.largeBodyBytes);
    let released = false;
    res.once("close", () => {
      if (released) return;
      released = true;
      inFlight -= 1;
      if (large && admitted) releaseLarge();
    });
    let admitted = false;
    if (!large) return next();
    const admit = () => {
      admitted = true;
      next();
    };
    if (largeInFlight < options.maxLargeInFlight) {
      largeInFlight += 1;
      return admit();
    }
    waiting.push(admit);
    res.once("close", () => {
      const index = waiting.indexOf(admit);
      if (index >= 0) waiting.splice(index, 1);
    });
  };
}
