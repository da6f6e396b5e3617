import type { Response } from "express";
import type { FaultRule } from "./faults.ts";

/** Applies the fault planned for this call, if any; true when it has answered (or will never). */
export async function applyFault(
  fault: FaultRule | undefined,
  res: Response,
  record: (status: number, retryAfterSeconds?: number) => void,
): Promise<boolean> {
  if (!fault) return false;
  switch (fault.kind) {
    case "latency":
      await new Promise((r) => setTimeout(r, fault.minMs + Math.random() * (fault.maxMs - fault.minMs)));
      return false;
    case "hang":
      record(0);
      return true;
    case "reset":
      record(0);
      res.socket?.destroy();
      return true;
    case "status": {
      const ra = fault.retryAfter;
      record(fault.status, ra !== undefined && /^\d+$/.test(ra) ? Number(ra) : undefined);
      if (ra !== undefined) res.setHeader("retry-after", ra);
      if (fault.rawBody !== undefined) {
        res.status(fault.status).type("text/html").send(fault.rawBody);
      } else {
        const code = fault.status === 429 ? "rate_limited" : fault.status >= 500 ? "server_error" : "bad_request";
        res.status(fault.status).json({ code, detail: `injected ${fault.status}` });
      }
      return true;
    }
  }
}
