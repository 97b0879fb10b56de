import { and, asc, eq, gt, ilike, isNull, or, type SQL } from "drizzle-orm";
import { merchants } from "../../db/schema";
import type { ServiceCtx } from "../../lib/context";
import { NotFound } from "../../lib/errors";
import { newId } from "../../lib/ids";
import { type Page, toPage } from "../../lib/pagination";
import { recordAudit } from "../audit/service";
import { assertCan, requireOrgId } from "../auth/principal";
import type { CreateMerchantInput, MerchantListInput, MerchantView, UpdateMerchantInput } from "./schemas";

type MerchantRow = typeof merchants.$inferSelect;

function merchantView(row: MerchantRow): MerchantView {
  return {
    id: row.id,
    name: row.name,
    phone: row.phone,
    email: row.email,
    address: row.address,
    tax_id: row.taxId,
    notes: row.notes,
    archived_at: row.archivedAt?.toISOString() ?? null,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

/** A merchant of `orgId`, or 404 exactly as for one that does not exist. */
export async function getMerchantInOrg(ctx: ServiceCtx, orgId: string, id: string): Promise<MerchantRow> {
  const [row] = await ctx.db
    .select()
    .from(merchants)
    .where(and(eq(merchants.id, id), eq(merchants.orgId, orgId)));
  if (!row) throw new NotFound("merchant", id);
  return row;
}

export async function createMerchant(ctx: ServiceCtx, input: CreateMerchantInput): Promise<MerchantView> {
  assertCan(ctx, "merchants:write");
  const orgId = requireOrgId(ctx);
  const now = ctx.now();
  const [row] = await ctx.db
    .insert(merchants)
    .values({
      id: newId("mer"),
      orgId,
      name: input.name,
      phone: input.phone ?? null,
      email: input.email ?? null,
      address: input.address ?? null,
      taxId: input.tax_id ?? null,
      notes: input.notes ?? null,
      createdAt: now,
      updatedAt: now,
    })
    .returning();
  if (!row) throw new Error("merchant insert returned no row");
  await recordAudit(ctx, { orgId, action: "merchant.created", targetType: "merchant", targetId: row.id, metadata: { name: row.name } });
  return merchantView(row);
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** Merchants that are not archived, oldest first. */
export async function listMerchants(ctx: ServiceCtx, query: MerchantListInput): Promise<Page<MerchantView>> {
  assertCan(ctx, "merchants:read");
  const orgId = requireOrgId(ctx);
  const filters: (SQL | undefined)[] = [eq(merchants.orgId, orgId), isNull(merchants.archivedAt)];
  if (query.cursor) filters.push(gt(merchants.id, query.cursor));
  if (query.q) {
    const pattern = `%${escapeLike(query.q)}%`;
    filters.push(or(ilike(merchants.name, pattern), ilike(merchants.phone, pattern), ilike(merchants.email, pattern)));
  }
  const rows = await ctx.db
    .select()
    .from(merchants)
    .where(and(...filters))
    .orderBy(asc(merchants.id))
    .limit(query.limit + 1);
  return toPage(rows, query.limit, (r) => r.id, merchantView);
}

export async function getMerchant(ctx: ServiceCtx, id: string): Promise<MerchantView> {
  assertCan(ctx, "merchants:read");
  return merchantView(await getMerchantInOrg(ctx, requireOrgId(ctx), id));
}

/** Changes the given fields; `null` clears an optional one. */
export async function updateMerchant(ctx: ServiceCtx, id: string, patch: UpdateMerchantInput): Promise<MerchantView> {
  assertCan(ctx, "merchants:write");
  const orgId = requireOrgId(ctx);
  const changes: Partial<typeof merchants.$inferInsert> = {};
  if (patch.name !== undefined) changes.name = patch.name;
  if (patch.phone !== undefined) changes.phone = patch.phone;
  if (patch.email !== undefined) changes.email = patch.email;
  if (patch.address !== undefined) changes.address = patch.address;
  if (patch.tax_id !== undefined) changes.taxId = patch.tax_id;
  if (patch.notes !== undefined) changes.notes = patch.notes;
  if (Object.keys(changes).length === 0) return merchantView(await getMerchantInOrg(ctx, orgId, id));
  const [row] = await ctx.db
    .update(merchants)
    .set({ ...changes, updatedAt: ctx.now() })
    .where(and(eq(merchants.id, id), eq(merchants.orgId, orgId)))
    .returning();
  if (!row) throw new NotFound("merchant", id);
  await recordAudit(ctx, { orgId, action: "merchant.updated", targetType: "merchant", targetId: id, metadata: { fields: Object.keys(patch) } });
  return merchantView(row);
}

/** Archives a merchant: hidden from the list, kept for the purchases that will point at it. */
export async function archiveMerchant(ctx: ServiceCtx, id: string): Promise<void> {
  assertCan(ctx, "merchants:write");
  const orgId = requireOrgId(ctx);
  const now = ctx.now();
  const archived = await ctx.db
    .update(merchants)
    .set({ archivedAt: now, updatedAt: now })
    .where(and(eq(merchants.id, id), eq(merchants.orgId, orgId), isNull(merchants.archivedAt)))
    .returning({ id: merchants.id });
  if (archived.length === 0) {
    await getMerchantInOrg(ctx, orgId, id);
    return;
  }
  await recordAudit(ctx, { orgId, action: "merchant.archived", targetType: "merchant", targetId: id });
}
