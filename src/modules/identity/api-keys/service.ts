import { and, asc, eq, gt, isNull } from "drizzle-orm";
import { apiKeys } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { randomToken, sha256Hex } from "../../../lib/crypto";
import { type FieldError, Forbidden, NotFound, Unprocessable } from "../../../lib/errors";
import { newId } from "../../../lib/ids";
import { type Page, type PageRequest, toPage } from "../../../lib/pagination";
import { recordAudit } from "../audit/service";
import { expandGrants, grants, knownPermissions } from "../auth/permissions";
import { API_KEY_PREFIX, assertCan, requireOrgId } from "../auth/principal";
import type { ApiKeyView, CreateApiKeyInput, CreatedApiKeyView } from "./schemas";

/** Characters of the key kept in clear (`bx_` plus 9), enough to tell keys apart in a list. */
const PREFIX_LENGTH = 12;

/**
 * The concrete permissions a requested list stands for. The rule, kept deliberately simple:
 * a wildcard (`*`, `customers:*`, `*:read`) stands for every permission known today that it
 * matches, and the key stores that expansion, not the pattern. So the creator must hold each
 * permission it expands to (one missing is a 403 naming it), and a key never gains a
 * permission added in a later release that its creator was never checked for. An entry that
 * matches no known permission is a 422.
 */
function resolvePermissions(ctx: ServiceCtx, requested: readonly string[] | undefined): string[] {
  const actor = ctx.actor;
  const holds = (p: string) => actor?.can(p) ?? false;
  if (!requested) return expandGrants(holds);

  const unknown: FieldError[] = [];
  const expanded = new Set<string>();
  requested.forEach((pattern, index) => {
    const matched = [...knownPermissions].filter((permission) => grants([pattern], permission));
    if (matched.length === 0) unknown.push({ path: `permissions.${index}`, message: `Unknown permission ${pattern}` });
    for (const permission of matched) expanded.add(permission);
  });
  if (unknown.length > 0) throw new Unprocessable(unknown, "Some permissions do not exist");

  const list = [...expanded].sort();
  const missing = list.find((permission) => !holds(permission));
  if (missing) throw new Forbidden(`You cannot give a key ${missing}: you do not hold it in this organisation`);
  return list;
}

/**
 * Creates an organisation API key. The secret is returned once; only its SHA-256 hash is
 * stored. A key can never hold more than its creator (a user or another key) holds.
 */
export async function createApiKey(ctx: ServiceCtx, input: CreateApiKeyInput): Promise<CreatedApiKeyView> {
  assertCan(ctx, "api_keys:write");
  const orgId = requireOrgId(ctx);
  const permissions = resolvePermissions(ctx, input.permissions);
  const key = `${API_KEY_PREFIX}${randomToken(32)}`;
  const row = {
    id: newId("key"),
    orgId,
    createdBy: ctx.actor?.userId ?? null,
    name: input.name,
    prefix: key.slice(0, PREFIX_LENGTH),
    keyHash: await sha256Hex(key),
    permissions,
    createdAt: ctx.now(),
  };
  await ctx.db.insert(apiKeys).values(row);
  await recordAudit(ctx, { orgId, action: "api_key.created", targetType: "api_key", targetId: row.id, metadata: { name: row.name, permissions } });
  return { id: row.id, name: row.name, key, prefix: row.prefix, permissions, created_at: row.createdAt.toISOString() };
}

const listedKeyColumns = {
  id: apiKeys.id,
  name: apiKeys.name,
  prefix: apiKeys.prefix,
  permissions: apiKeys.permissions,
  lastUsedAt: apiKeys.lastUsedAt,
  createdAt: apiKeys.createdAt,
  revokedAt: apiKeys.revokedAt,
};

function apiKeyView(row: Pick<typeof apiKeys.$inferSelect, keyof typeof listedKeyColumns>): ApiKeyView {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    permissions: row.permissions,
    last_used_at: row.lastUsedAt?.toISOString() ?? null,
    created_at: row.createdAt.toISOString(),
    revoked_at: row.revokedAt?.toISOString() ?? null,
  };
}

/** The organisation's keys, oldest first, revoked ones included; never the secret or its hash. */
export async function listApiKeys(ctx: ServiceCtx, page: PageRequest): Promise<Page<ApiKeyView>> {
  assertCan(ctx, "api_keys:read");
  const orgId = requireOrgId(ctx);
  const rows = await ctx.db
    .select(listedKeyColumns)
    .from(apiKeys)
    .where(and(eq(apiKeys.orgId, orgId), page.cursor ? gt(apiKeys.id, page.cursor) : undefined))
    .orderBy(asc(apiKeys.id))
    .limit(page.limit + 1);
  return toPage(rows, page.limit, (r) => r.id, apiKeyView);
}

/**
 * Keys of `orgId` that still authenticate, for other modules' figures (organisation stats).
 * No permission check: the caller has already decided the figure may be shown.
 */
export async function countActiveApiKeys(ctx: ServiceCtx, orgId: string): Promise<number> {
  return ctx.db.$count(apiKeys, and(eq(apiKeys.orgId, orgId), isNull(apiKeys.revokedAt)));
}

/**
 * Revokes a key of the active organisation: the next request with it gets 401. Revoking a key
 * that is already revoked changes nothing; a key of another organisation is a 404.
 */
export async function revokeApiKey(ctx: ServiceCtx, id: string): Promise<void> {
  assertCan(ctx, "api_keys:write");
  const orgId = requireOrgId(ctx);
  // The `revoked_at IS NULL` condition keeps the first revocation time and its single audit event
  // when two revocations race.
  const revoked = await ctx.db
    .update(apiKeys)
    .set({ revokedAt: ctx.now() })
    .where(and(eq(apiKeys.id, id), eq(apiKeys.orgId, orgId), isNull(apiKeys.revokedAt)))
    .returning({ id: apiKeys.id });
  if (revoked.length === 0) {
    const [existing] = await ctx.db
      .select({ id: apiKeys.id })
      .from(apiKeys)
      .where(and(eq(apiKeys.id, id), eq(apiKeys.orgId, orgId)));
    if (!existing) throw new NotFound("api_key", id);
    return;
  }
  await recordAudit(ctx, { orgId, action: "api_key.revoked", targetType: "api_key", targetId: id });
}

/**
 * Revokes the live keys `userId` created in `orgId`, each audited, and returns their ids. Called
 * when the member leaves: a key carries its creator's permissions, which the organisation just
 * took back. Runs in the caller's transaction (`ctx.db`), so the keys die with the membership.
 */
export async function revokeMemberApiKeys(ctx: ServiceCtx, orgId: string, userId: string): Promise<string[]> {
  const revoked = await ctx.db
    .update(apiKeys)
    .set({ revokedAt: ctx.now() })
    .where(and(eq(apiKeys.orgId, orgId), eq(apiKeys.createdBy, userId), isNull(apiKeys.revokedAt)))
    .returning({ id: apiKeys.id });
  for (const { id } of revoked) {
    await recordAudit(ctx, { orgId, action: "api_key.revoked", targetType: "api_key", targetId: id, metadata: { reason: "member_removed", user_id: userId } });
  }
  return revoked.map((r) => r.id);
}
