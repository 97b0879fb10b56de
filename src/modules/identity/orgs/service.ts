import { and, asc, eq, gt, isNull } from "drizzle-orm";
import { type Database, withTransaction } from "../../../db/client";
import { invitations, memberships, organizations } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { Forbidden, NotFound } from "../../../lib/errors";
import { newId } from "../../../lib/ids";
import { deleteOrgFiles } from "../../../lib/org-files";
import { type Page, type PageRequest, toPage } from "../../../lib/pagination";
import { assertMayOwnAnotherOrg } from "../../money/plans/limits";
import { countActiveApiKeys } from "../api-keys/service";
import { recordAudit } from "../audit/service";
import { requireOrgId } from "../auth/principal";
import { countCustomRoles } from "../roles/service";
import type { OrgStatsView, OrgView, UpdateOrgInput } from "./schemas";

type OrgRow = typeof organizations.$inferSelect;

function toOrgView(row: OrgRow, role: string | null): OrgView {
  return {
    id: row.id,
    name: row.name,
    currency: row.currency,
    prices_include_tax: row.pricesIncludeTax,
    allow_negative_stock: row.allowNegativeStock,
    role,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

/** The user behind the request; organisations and invitations belong to people, not API keys. */
export function requireUser(ctx: ServiceCtx): string {
  const userId = ctx.actor?.userId;
  if (!userId) throw new Forbidden("This needs a user token, not an API key");
  return userId;
}

/**
 * `/v1/orgs/{id}/...` acts on the active organisation only (the API key's, or the user's chosen by
 * X-Org-Id). Any other id answers 404, exactly as for an organisation that does not exist, so a
 * caller learns nothing about organisations they are not in.
 */
export function requireActiveOrg(ctx: ServiceCtx, orgId: string): string {
  if (requireOrgId(ctx) !== orgId) throw new NotFound("organization", orgId);
  return orgId;
}

/** An organisation as seen by someone holding `role` in it; for other modules (e.g. invitations). */
export async function loadOrg(db: Database, orgId: string, role: string | null): Promise<OrgView> {
  const [row] = await db.select().from(organizations).where(eq(organizations.id, orgId));
  if (!row) throw new NotFound("organization", orgId);
  return toOrgView(row, role);
}

/** Creates an organisation; the calling user becomes its owner. */
export async function createOrg(ctx: ServiceCtx, input: { name: string; currency?: string }): Promise<OrgView> {
  const userId = requireUser(ctx);
  const id = newId("org");
  return withTransaction(ctx, async (tx) => {
    await assertMayOwnAnotherOrg(tx, userId);
    const [row] = await tx
      .insert(organizations)
      .values({ id, name: input.name, currency: input.currency ?? "USD" })
      .returning();
    await tx.insert(memberships).values({ orgId: id, userId, role: "owner" });
    await recordAudit({ ...ctx, db: tx }, { orgId: id, action: "org.created", targetType: "organization", targetId: id, metadata: { name: input.name } });
    return toOrgView(row as OrgRow, "owner");
  });
}

/** The calling user's organisations with their role in each, oldest first. */
export async function listMyOrgs(ctx: ServiceCtx, page: PageRequest): Promise<Page<OrgView>> {
  const userId = requireUser(ctx);
  const rows = await ctx.db
    .select({ org: organizations, role: memberships.role })
    .from(memberships)
    .innerJoin(organizations, eq(organizations.id, memberships.orgId))
    .where(and(eq(memberships.userId, userId), page.cursor ? gt(organizations.id, page.cursor) : undefined))
    .orderBy(asc(organizations.id))
    .limit(page.limit + 1);
  return toPage(
    rows,
    page.limit,
    (r) => r.org.id,
    (r) => toOrgView(r.org, r.role),
  );
}

export async function getOrg(ctx: ServiceCtx, orgId: string): Promise<OrgView> {
  requireActiveOrg(ctx, orgId);
  return loadOrg(ctx.db, orgId, ctx.actor?.role ?? null);
}

export async function updateOrg(ctx: ServiceCtx, orgId: string, patch: UpdateOrgInput): Promise<OrgView> {
  requireActiveOrg(ctx, orgId);
  return withTransaction(ctx, async (tx) => {
    const [before] = await tx.select().from(organizations).where(eq(organizations.id, orgId)).for("update");
    if (!before) throw new NotFound("organization", orgId);
    const [after] = await tx
      .update(organizations)
      .set({
        name: patch.name,
        currency: patch.currency,
        pricesIncludeTax: patch.prices_include_tax,
        allowNegativeStock: patch.allow_negative_stock,
        updatedAt: ctx.now(),
      })
      .where(eq(organizations.id, orgId))
      .returning();
    const changes: Record<string, { from: string | boolean; to: string | boolean }> = {};
    const compare = {
      name: before.name,
      currency: before.currency,
      prices_include_tax: before.pricesIncludeTax,
      allow_negative_stock: before.allowNegativeStock,
    };
    for (const [field, from] of Object.entries(compare)) {
      const to = patch[field as keyof UpdateOrgInput];
      if (to !== undefined && to !== from) changes[field] = { from, to };
    }
    await recordAudit({ ...ctx, db: tx }, { orgId, action: "org.updated", targetType: "organization", targetId: orgId, metadata: { changes } });
    return toOrgView(after as OrgRow, ctx.actor?.role ?? null);
  });
}

/**
 * Deletes the organisation and, through the foreign keys, everything it owns: memberships,
 * roles, invitations, API keys, messages and its own audit events. The deletion itself is
 * audited without an org_id so that record survives the cascade. Its files in R2 go after the
 * commit, in the background: the rows that pointed at them are already gone.
 */
export async function deleteOrg(ctx: ServiceCtx, orgId: string): Promise<void> {
  requireActiveOrg(ctx, orgId);
  await withTransaction(ctx, async (tx) => {
    const [deleted] = await tx.delete(organizations).where(eq(organizations.id, orgId)).returning({ name: organizations.name });
    if (!deleted) throw new NotFound("organization", orgId);
    await recordAudit(
      { ...ctx, db: tx },
      { orgId: null, action: "org.deleted", targetType: "organization", targetId: orgId, metadata: { name: deleted.name } },
    );
  });
  ctx.waitUntil(
    deleteOrgFiles(ctx.env.FILES, orgId).catch((error: unknown) => ctx.log.error("files of a deleted organisation not removed", { error, org_id: orgId })),
  );
}

/**
 * Counts of the organisation's identity records. Members and invitations are counted here; API
 * keys and custom roles by the modules that own them, in parallel. The statements run apart, so
 * the counts may straddle a concurrent change, which is fine for a dashboard figure.
 */
export async function orgStats(ctx: ServiceCtx, orgId: string): Promise<OrgStatsView> {
  requireActiveOrg(ctx, orgId);
  const now = ctx.now();
  const [[row], apiKeyCount, customRoleCount] = await Promise.all([
    ctx.db
      .select({
        members: ctx.db.$count(memberships, eq(memberships.orgId, organizations.id)),
        pendingInvitations: ctx.db.$count(
          invitations,
          and(eq(invitations.orgId, organizations.id), isNull(invitations.acceptedAt), gt(invitations.expiresAt, now)),
        ),
      })
      .from(organizations)
      .where(eq(organizations.id, orgId)),
    countActiveApiKeys(ctx, orgId),
    countCustomRoles(ctx, orgId),
  ]);
  if (!row) throw new NotFound("organization", orgId);
  return {
    members: Number(row.members),
    pending_invitations: Number(row.pendingInvitations),
    api_keys: apiKeyCount,
    custom_roles: customRoleCount,
  };
}
