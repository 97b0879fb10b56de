import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../../../lib/context";
import { AppError, Forbidden, Unauthorized } from "../../../lib/errors";
import { recordAudit } from "../audit/service";
import { declarePermission } from "./permissions";
import { requireOrgId, resolveActor } from "./principal";

export class TooManyRequests extends AppError {
  constructor(retryAfterSeconds: number) {
    super(429, "https://billx.dev/problems/rate-limited", "Too many requests", `Slow down; try again in ${retryAfterSeconds} seconds`, undefined, {
      "Retry-After": String(retryAfterSeconds),
    });
  }
}

// The period configured for the rate-limit bindings in wrangler.toml; the binding does not say
// when a window resets, so the whole period is the honest upper bound.
const RATE_LIMIT_PERIOD_SECONDS = 60;

/** Counts one request against `key` on `limiter`; 429 with Retry-After when over the limit. */
export async function enforceRateLimit(limiter: RateLimit, key: string): Promise<void> {
  const { success } = await limiter.limit({ key });
  if (!success) throw new TooManyRequests(RATE_LIMIT_PERIOD_SECONDS);
}

/** Per-IP limit for the unauthenticated `/v1/auth/*` endpoints (sign-in guessing, OTP spraying). */
export const rateLimitByIp: MiddlewareHandler<AppEnv> = async function rateLimitByIp(c, next) {
  await enforceRateLimit(c.env.RATE_LIMIT_AUTH, `ip:${c.var.ctx.request.ip ?? "unknown"}`);
  await next();
};

/**
 * Authenticates `Authorization: Bearer <access token | API key>`, chooses the active organisation
 * (the key's, or `X-Org-Id` for a user) and applies the per-caller rate limit.
 */
export const requireAuth: MiddlewareHandler<AppEnv> = async function requireAuth(c, next) {
  const header = c.req.header("Authorization") ?? "";
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match?.[1]) throw new Unauthorized("Send Authorization: Bearer <access token or API key>");
  const ctx = c.var.ctx;
  const actor = await resolveActor(ctx, match[1], c.req.header("X-Org-Id")?.trim() || null);
  ctx.actor = actor;
  await enforceRateLimit(c.env.RATE_LIMIT_API, actor.apiKeyId ? `key:${actor.apiKeyId}` : `user:${actor.userId}`);
  if (actor.role === "super_admin") {
    await recordAudit(ctx, { orgId: actor.orgId, action: "super_admin.accessed", metadata: { method: c.req.method, path: c.req.path } });
  }
  await next();
};

/** 403 unless the actor holds `permission` in the active organisation. Declares the permission. */
export function requirePermission(permission: string): MiddlewareHandler<AppEnv> {
  declarePermission(permission);
  return async function requirePermission(c, next) {
    const actor = c.var.ctx.actor;
    if (!actor) throw new Unauthorized();
    requireOrgId(c.var.ctx);
    if (!actor.can(permission)) throw new Forbidden(`This needs the ${permission} permission`);
    await next();
  };
}
