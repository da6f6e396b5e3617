import { OPENAPI } from "./openapi.ts";

interface RouteEntry {
  method: string;
  /** As Express names it: "GET /notifications/:eventId". */
  path: string;
  pattern: RegExp;
  params: number;
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^$()|[\]\\]/g, "\\$&");

// From the API's description, which test/http/openapi.test.ts holds equal to the routes served;
// fixed paths before parameterised ones, as a reader expects "/notifications/replay" to win.
const ROUTES: RouteEntry[] = Object.entries(OPENAPI.paths)
  .flatMap(([path, operations]) =>
    Object.keys(operations).map((method) => ({
      method: method.toUpperCase(),
      path: path.replace(/\{(\w+)\}/g, ":$1"),
      pattern: new RegExp(`^${escapeRegExp(path).replace(/\{\w+\}/g, "[^/]+")}/?$`),
      params: (path.match(/\{/g) ?? []).length,
    })),
  )
  .sort((a, b) => a.params - b.params);

/**
 * The route pattern a request was for when no route took it: it was refused before routing
 * (authentication runs first), so Express never matched it. Undefined when the API has no such route.
 */
export function apiRouteOf(method: string, path: string): string | undefined {
  const asMethod = method === "HEAD" ? "GET" : method;
  const route = ROUTES.find((r) => r.method === asMethod && r.pattern.test(path));
  return route ? `${method} ${route.path}` : undefined;
}
