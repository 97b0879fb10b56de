/**
 * Hono answers 404 for a known path with an unsupported method. This finds the methods a
 * path does support, so the app can answer 405 with an `Allow` header instead.
 */
interface RouteEntry {
  method: string;
  path: string;
}

const compiled = new WeakMap<RouteEntry[], { method: string; pattern: RegExp }[]>();

function compile(routes: RouteEntry[]) {
  let list = compiled.get(routes);
  if (!list) {
    list = routes
      .filter((r) => r.method !== "ALL" && !r.path.includes("*"))
      .map((r) => ({
        method: r.method,
        pattern: new RegExp(`^${r.path.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/:[A-Za-z_]\w*/g, "[^/]+")}/?$`),
      }));
    compiled.set(routes, list);
  }
  return list;
}

export function allowedMethods(routes: RouteEntry[], path: string): string[] {
  const methods = new Set<string>();
  for (const route of compile(routes)) if (route.pattern.test(path)) methods.add(route.method);
  if (methods.has("GET")) methods.add("HEAD");
  return [...methods].sort();
}
