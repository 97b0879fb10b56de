import { and, asc, eq, gt, ilike, isNull, type SQL } from "drizzle-orm";
import { type Database, type Transaction, withTransaction } from "../../../db/client";
import { isUniqueViolation } from "../../../db/errors";
import { billingModels, billingModelVersions } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { Conflict, NotFound } from "../../../lib/errors";
import { newId } from "../../../lib/ids";
import { type Page, toPage } from "../../../lib/pagination";
import { recordAudit } from "../../identity/audit/service";
import { assertCan, requireOrgId } from "../../identity/auth/principal";
import { loadOrg } from "../../identity/orgs/service";
import { Component, type ComponentValue } from "./components";
import type { ModelTerms } from "./engine";
import type { BillingModelListInput, BillingModelVersionView, BillingModelView, CreateBillingModelInput, UpdateBillingModelInput } from "./schemas";

type ModelRow = typeof billingModels.$inferSelect;
type VersionRow = typeof billingModelVersions.$inferSelect;

function termsFields(version: VersionRow) {
  return {
    currency: version.currency,
    period: version.period,
    base_fee: version.baseFee,
    minimum_commitment: version.minimumCommitment,
    tax_rate_bps: version.taxRateBps,
    components: version.components as ComponentValue[],
  };
}

function modelView(model: ModelRow, current: VersionRow): BillingModelView {
  return {
    id: model.id,
    name: model.name,
    version: model.currentVersion,
    // Versions are written 1, 2, 3... under the model row's lock, so the current one is also the count.
    versions: model.currentVersion,
    ...termsFields(current),
    archived_at: model.archivedAt?.toISOString() ?? null,
    created_at: model.createdAt.toISOString(),
    updated_at: model.updatedAt.toISOString(),
  };
}

function versionView(version: VersionRow): BillingModelVersionView {
  return {
    model_id: version.modelId,
    version: version.version,
    ...termsFields(version),
    created_by: version.createdBy,
    created_at: version.createdAt.toISOString(),
  };
}

function duplicateName(name: string): Conflict {
  return new Conflict(`A billing model named ${name} already exists in this organisation (archived ones included)`);
}

/** The model of the organisation with its current version's terms, or null. */
async function findModel(db: Database | Transaction, orgId: string, id: string): Promise<{ model: ModelRow; current: VersionRow } | null> {
  const [row] = await db
    .select({ model: billingModels, current: billingModelVersions })
    .from(billingModels)
    .innerJoin(billingModelVersions, and(eq(billingModelVersions.modelId, billingModels.id), eq(billingModelVersions.version, billingModels.currentVersion)))
    .where(and(eq(billingModels.id, id), eq(billingModels.orgId, orgId)));
  return row ?? null;
}

async function findVersion(db: Database | Transaction, modelId: string, version: number): Promise<VersionRow | null> {
  const [row] = await db
    .select()
    .from(billingModelVersions)
    .where(and(eq(billingModelVersions.modelId, modelId), eq(billingModelVersions.version, version)));
  return row ?? null;
}

/** Creates a billing model; its terms become version 1. */
export async function createBillingModel(ctx: ServiceCtx, input: CreateBillingModelInput): Promise<BillingModelView> {
  assertCan(ctx, "billing_models:write");
  const orgId = requireOrgId(ctx);
  const currency = input.currency ?? (await loadOrg(ctx.db, orgId, null)).currency;
  const now = ctx.now();
  const id = newId("bmd");
  try {
    return await withTransaction(ctx, async (tx) => {
      const [model] = await tx.insert(billingModels).values({ id, orgId, name: input.name, currentVersion: 1, createdAt: now, updatedAt: now }).returning();
      const [version] = await tx
        .insert(billingModelVersions)
        .values({
          modelId: id,
          version: 1,
          currency,
          period: input.period,
          baseFee: input.base_fee ?? 0,
          minimumCommitment: input.minimum_commitment ?? 0,
          taxRateBps: input.tax_rate_bps ?? 0,
          components: input.components,
          createdBy: ctx.actor?.userId ?? null,
          createdAt: now,
        })
        .returning();
      if (!model || !version) throw new Error("billing model insert returned no row");
      await recordAudit(
        { ...ctx, db: tx },
        { orgId, action: "billing_model.created", targetType: "billing_model", targetId: id, metadata: { name: input.name, version: 1 } },
      );
      return modelView(model, version);
    });
  } catch (error) {
    if (isUniqueViolation(error)) throw duplicateName(input.name);
    throw error;
  }
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** Billing models that are not archived, oldest first, each with its current terms. */
export async function listBillingModels(ctx: ServiceCtx, query: BillingModelListInput): Promise<Page<BillingModelView>> {
  assertCan(ctx, "billing_models:read");
  const orgId = requireOrgId(ctx);
  const filters: (SQL | undefined)[] = [eq(billingModels.orgId, orgId), isNull(billingModels.archivedAt)];
  if (query.cursor) filters.push(gt(billingModels.id, query.cursor));
  if (query.q) filters.push(ilike(billingModels.name, `%${escapeLike(query.q)}%`));
  const rows = await ctx.db
    .select({ model: billingModels, current: billingModelVersions })
    .from(billingModels)
    .innerJoin(billingModelVersions, and(eq(billingModelVersions.modelId, billingModels.id), eq(billingModelVersions.version, billingModels.currentVersion)))
    .where(and(...filters))
    .orderBy(asc(billingModels.id))
    .limit(query.limit + 1);
  return toPage(
    rows,
    query.limit,
    (r) => r.model.id,
    (r) => modelView(r.model, r.current),
  );
}

/** One billing model of the active organisation (archived ones too), with its current terms. */
export async function getBillingModel(ctx: ServiceCtx, id: string): Promise<BillingModelView> {
  assertCan(ctx, "billing_models:read");
  const found = await findModel(ctx.db, requireOrgId(ctx), id);
  if (!found) throw new NotFound("billing model", id);
  return modelView(found.model, found.current);
}

/** The terms of one version of a billing model. */
export async function getBillingModelVersion(ctx: ServiceCtx, id: string, version: string): Promise<BillingModelVersionView> {
  assertCan(ctx, "billing_models:read");
  const found = await findModel(ctx.db, requireOrgId(ctx), id);
  if (!found) throw new NotFound("billing model", id);
  const number = /^[1-9]\d{0,8}$/.test(version) ? Number(version) : null;
  const row = number === null ? null : await findVersion(ctx.db, id, number);
  if (!row) throw new NotFound(`version ${version} of billing model`, id);
  return versionView(row);
}

const TERM_FIELDS = ["currency", "base_fee", "minimum_commitment", "tax_rate_bps", "components"] as const;

/**
 * Edits a billing model. A change to its terms writes version n+1 from the current terms and
 * the patch, and makes it current; version n stays as it was, for the invoices computed with it.
 * A name-only change writes no version.
 */
export async function updateBillingModel(ctx: ServiceCtx, id: string, patch: UpdateBillingModelInput): Promise<BillingModelView> {
  assertCan(ctx, "billing_models:write");
  const orgId = requireOrgId(ctx);
  const termsChange = TERM_FIELDS.some((field) => patch[field] !== undefined);
  const now = ctx.now();
  try {
    return await withTransaction(ctx, async (tx) => {
      // Two edits racing would both read version n and both try to write n+1. The row lock
      // queues the second behind the first, which then reads n+1 and writes n+2; the
      // (model_id, version) primary key would refuse a duplicate regardless.
      const [model] = await tx
        .select()
        .from(billingModels)
        .where(and(eq(billingModels.id, id), eq(billingModels.orgId, orgId)))
        .for("update");
      if (!model) throw new NotFound("billing model", id);
      if (model.archivedAt) throw new Conflict(`Billing model ${id} is archived; create a new model instead`);
      const current = await findVersion(tx, id, model.currentVersion);
      if (!current) throw new Error(`billing model ${id} has no version ${model.currentVersion}`);
      let version = current;
      if (termsChange) {
        const [written] = await tx
          .insert(billingModelVersions)
          .values({
            modelId: id,
            version: model.currentVersion + 1,
            currency: patch.currency ?? current.currency,
            period: current.period,
            baseFee: patch.base_fee ?? current.baseFee,
            minimumCommitment: patch.minimum_commitment ?? current.minimumCommitment,
            taxRateBps: patch.tax_rate_bps ?? current.taxRateBps,
            components: patch.components ?? current.components,
            createdBy: ctx.actor?.userId ?? null,
            createdAt: now,
          })
          .returning();
        if (!written) throw new Error("billing model version insert returned no row");
        version = written;
      }
      const [updated] = await tx
        .update(billingModels)
        .set({ name: patch.name ?? model.name, currentVersion: version.version, updatedAt: now })
        .where(eq(billingModels.id, id))
        .returning();
      if (!updated) throw new Error("billing model update returned no row");
      await recordAudit(
        { ...ctx, db: tx },
        {
          orgId,
          action: "billing_model.updated",
          targetType: "billing_model",
          targetId: id,
          metadata: { fields: Object.keys(patch).filter((k) => patch[k as keyof UpdateBillingModelInput] !== undefined), version: version.version },
        },
      );
      return modelView(updated, version);
    });
  } catch (error) {
    if (isUniqueViolation(error) && patch.name !== undefined) throw duplicateName(patch.name);
    throw error;
  }
}

/**
 * Archives a billing model: out of the list, no new customers on it, no more edits. Customers
 * already on it keep it, and it still prices (calculate, invoices). Archiving twice keeps the
 * first time.
 */
export async function archiveBillingModel(ctx: ServiceCtx, id: string): Promise<void> {
  assertCan(ctx, "billing_models:write");
  const orgId = requireOrgId(ctx);
  const now = ctx.now();
  const archived = await ctx.db
    .update(billingModels)
    .set({ archivedAt: now, updatedAt: now })
    .where(and(eq(billingModels.id, id), eq(billingModels.orgId, orgId), isNull(billingModels.archivedAt)))
    .returning({ id: billingModels.id });
  if (archived.length === 0) {
    if (!(await findModel(ctx.db, orgId, id))) throw new NotFound("billing model", id);
    return;
  }
  await recordAudit(ctx, { orgId, action: "billing_model.archived", targetType: "billing_model", targetId: id });
}

/**
 * A model version's terms for pricing (the current version unless one is named), with its
 * number. 404 for a model outside the organisation; null for a version the model does not have.
 */
export async function loadModelTerms(
  db: Database | Transaction,
  orgId: string,
  modelId: string,
  version?: number,
): Promise<{ model: ModelRow; version: number; terms: ModelTerms } | null> {
  const found = await findModel(db, orgId, modelId);
  if (!found) throw new NotFound("billing model", modelId);
  const row = version === undefined || version === found.current.version ? found.current : await findVersion(db, modelId, version);
  if (!row) return null;
  return {
    model: found.model,
    version: row.version,
    terms: {
      currency: row.currency,
      baseFee: row.baseFee,
      minimumCommitment: row.minimumCommitment,
      taxRateBps: row.taxRateBps,
      components: Component.array().parse(row.components),
    },
  };
}
