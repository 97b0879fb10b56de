import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../../../lib/context";
import { creditsChargedBy, recordApiUsage } from "./usage";

/**
 * Records one `api_usage` row per call of the route it is attached to: who called (API key or
 * user), the route pattern, method, status, duration and the credits the call charged. Put it
 * before `authed(...)`'s middleware so refused calls (402, 403) are counted too; calls without an
 * organisation (401) are not. The row is written through `waitUntil` after the response is
 * ready, and a failure to write it is logged, never returned to the caller.
 */
export function meterApiUsage(): MiddlewareHandler<AppEnv> {
  return async function meterApiUsage(c, next) {
    const started = Date.now();
    await next();
    const ctx = c.var.ctx;
    const orgId = ctx.actor?.orgId;
    if (!orgId) return;
    const write = recordApiUsage(ctx, {
      orgId,
      apiKeyId: ctx.actor?.apiKeyId ?? null,
      userId: ctx.actor?.userId ?? null,
      route: c.req.routePath,
      method: c.req.method,
      status: c.res.status,
      durationMs: Date.now() - started,
      credits: creditsChargedBy(ctx),
    }).catch((error: unknown) => ctx.log.error("api usage row not recorded", { error, route: c.req.routePath }));
    ctx.waitUntil(write);
  };
}
