import { and, eq, isNull } from "drizzle-orm";
import { apiKeys, memberships, organizations, roles, sessions, users } from "../../../db/schema";
import type { Actor, ServiceCtx } from "../../../lib/context";
import { sha256Hex } from "../../../lib/crypto";
import { BadRequest, Forbidden, NotFound, Unauthorized } from "../../../lib/errors";
import { grants, roleGrants } from "./permissions";
import { verifyAccessToken } from "./tokens";

export const API_KEY_PREFIX = "bx_";
// `last_used_at` is written at most this often per key, so a busy key does not write on every call.
const LAST_USED_RESOLUTION_MS = 60_000;

/**
 * Turns a bearer credential into an `Actor` for the requested organisation, or throws 401.
 * `requestedOrgId` is the `X-Org-Id` header; a user who is not a member gets 404 for it, so an
 * organisation's existence does not leak.
 */
export async function resolveActor(ctx: ServiceCtx, credential: string, requestedOrgId: string | null): Promise<Actor> {
  return credential.startsWith(API_KEY_PREFIX) ? actorFromApiKey(ctx, credential, requestedOrgId) : actorFromUserToken(ctx, credential, requestedOrgId);
}

async function actorFromApiKey(ctx: ServiceCtx, key: string, requestedOrgId: string | null): Promise<Actor> {
  const [row] = await ctx.db
    .select({ id: apiKeys.id, orgId: apiKeys.orgId, permissions: apiKeys.permissions, lastUsedAt: apiKeys.lastUsedAt })
    .from(apiKeys)
    .where(and(eq(apiKeys.keyHash, await sha256Hex(key)), isNull(apiKeys.revokedAt)));
  if (!row) throw new Unauthorized("The API key is invalid or has been revoked");
  if (requestedOrgId && requestedOrgId !== row.orgId) throw new NotFound("organization", requestedOrgId);
  const now = ctx.now();
  if (!row.lastUsedAt || now.getTime() - row.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
    ctx.waitUntil(
      ctx.db
        .update(apiKeys)
        .set({ lastUsedAt: now })
        .where(eq(apiKeys.id, row.id))
        .then(() => undefined),
    );
  }
  const permissions = row.permissions;
  return {
    kind: "api_key",
    userId: null,
    apiKeyId: row.id,
    sessionId: null,
    orgId: row.orgId,
    role: null,
    isSuperAdmin: false,
    can: (permission) => grants(permissions, permission),
  };
}

async function actorFromUserToken(ctx: ServiceCtx, token: string, requestedOrgId: string | null): Promise<Actor> {
  const claims = await verifyAccessToken(ctx.config, token, ctx.now());
  if (!claims) throw new Unauthorized("The access token is invalid or has expired");

  // One round trip: the session must be alive, and we need the user's memberships anyway.
  const rows = await ctx.db
    .select({
      revokedAt: sessions.revokedAt,
      isSuperAdmin: users.isSuperAdmin,
      orgId: memberships.orgId,
      role: memberships.role,
      customPermissions: roles.permissions,
    })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .leftJoin(memberships, eq(memberships.userId, sessions.userId))
    .leftJoin(roles, and(eq(roles.id, memberships.role), eq(roles.orgId, memberships.orgId)))
    .where(and(eq(sessions.id, claims.sid), eq(sessions.userId, claims.sub)));
  const first = rows[0];
  if (!first || first.revokedAt) throw new Unauthorized("The session has ended; sign in again");

  const member = rows.filter((r) => r.orgId !== null);
  let active = requestedOrgId ? member.find((r) => r.orgId === requestedOrgId) : member.length === 1 ? member[0] : undefined;
  const base = { kind: "user" as const, userId: claims.sub, apiKeyId: null, sessionId: claims.sid, isSuperAdmin: first.isSuperAdmin };

  if (requestedOrgId && !active) {
    // Platform staff may act in any existing organisation, with every permission; the audit
    // trail records it (requireAuth).
    if (first.isSuperAdmin && (await organizationExists(ctx, requestedOrgId))) {
      return { ...base, orgId: requestedOrgId, role: "super_admin", can: () => true };
    }
    throw new NotFound("organization", requestedOrgId);
  }
  if (!active) return { ...base, orgId: null, role: null, can: () => false };
  active = active as (typeof member)[number];
  const { allow } = roleGrants(active.role as string, active.customPermissions);
  return { ...base, orgId: active.orgId, role: active.role, can: allow };
}

async function organizationExists(ctx: ServiceCtx, orgId: string): Promise<boolean> {
  const [row] = await ctx.db.select({ id: organizations.id }).from(organizations).where(eq(organizations.id, orgId));
  return row !== undefined;
}

/** The active organisation, or a 400 telling the caller how to choose one. */
export function requireOrgId(ctx: ServiceCtx): string {
  const orgId = ctx.actor?.orgId;
  if (!orgId) throw new BadRequest("Choose an organisation with the X-Org-Id header: this user belongs to none or several");
  return orgId;
}

/** 403 unless the actor holds `permission` in the active organisation (for services also called outside routes). */
export function assertCan(ctx: ServiceCtx, permission: string): void {
  if (!ctx.actor?.can(permission)) throw new Forbidden(`This needs the ${permission} permission`);
}

/**
 * The actor of work the platform does on an organisation's behalf (a cron job, a queue consumer),
 * holding only `permissions`: such work can never do more than it was built for.
 */
export function systemActor(orgId: string, permissions: readonly string[]): Actor {
  const granted = new Set(permissions);
  return {
    kind: "api_key",
    userId: null,
    apiKeyId: null,
    sessionId: null,
    orgId,
    role: null,
    isSuperAdmin: false,
    can: (permission) => granted.has(permission),
  };
}
