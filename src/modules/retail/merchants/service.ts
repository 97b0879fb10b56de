import { and, asc, eq, gt, ilike, isNull, or, type SQL, sql } from "drizzle-orm";
import { type Database, type Transaction, withTransaction } from "../../../db/client";
import { runningLedgerPage } from "../../../db/ledger-page";
import { type MerchantLedgerKind, merchantLedger, merchants } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { NotFound } from "../../../lib/errors";
import { newId } from "../../../lib/ids";
import { type Page, type PageRequest, toPage } from "../../../lib/pagination";
import { recordAudit } from "../../identity/audit/service";
import { assertCan, requireOrgId } from "../../identity/auth/principal";
import { loadOrg } from "../../identity/orgs/service";
import type { CreateMerchantInput, MerchantLedgerEntryView, MerchantListInput, MerchantView, UpdateMerchantInput } from "./schemas";

export type MerchantRow = typeof merchants.$inferSelect;

export async function orgCurrency(ctx: ServiceCtx, orgId: string): Promise<string> {
  return (await loadOrg(ctx.db, orgId, null)).currency;
}

export function merchantView(row: MerchantRow, balanceOwed: number, currency: string): MerchantView {
  return {
    id: row.id,
    name: row.name,
    phone: row.phone,
    email: row.email,
    address: row.address,
    tax_id: row.taxId,
    notes: row.notes,
    balance_owed: balanceOwed,
    currency,
    archived_at: row.archivedAt?.toISOString() ?? null,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

/** `sum()` of a bigint is numeric, which the driver hands over as text. */
const ledgerSum = sql<number>`coalesce(sum(${merchantLedger.amount}), 0)`.mapWith(Number);

/**
 * A merchant of `orgId`, or 404 exactly as for one that does not exist. With `lock`, the row is
 * held `FOR UPDATE` until the transaction ends: every writer of the merchant's ledger takes it
 * first, so a balance read after it cannot be changed underneath.
 */
export async function getMerchantInOrg(db: Database | Transaction, orgId: string, id: string, lock = false): Promise<MerchantRow> {
  const query = db
    .select()
    .from(merchants)
    .where(and(eq(merchants.id, id), eq(merchants.orgId, orgId)));
  const [row] = lock ? await query.for("update") : await query;
  if (!row) throw new NotFound("merchant", id);
  return row;
}

/** What we owe a merchant now, in minor units: the sum of its ledger, never a stored figure. */
export async function balanceOwed(db: Database | Transaction, orgId: string, merchantId: string): Promise<number> {
  const [row] = await db
    .select({ balance: ledgerSum })
    .from(merchantLedger)
    .where(and(eq(merchantLedger.orgId, orgId), eq(merchantLedger.merchantId, merchantId)));
  return row?.balance ?? 0;
}

export interface MerchantLedgerEntryInput {
  merchantId: string;
  kind: MerchantLedgerKind;
  /** Signed minor units: positive means we owe the merchant more. */
  amount: number;
  reference: { type: string; id: string } | null;
  note?: string;
}

/**
 * Appends one entry to a merchant's ledger. The ledger is append-only: nothing updates or
 * deletes an entry, so what we owe always equals the entries that explain it. Runs on `db`, the
 * caller's transaction, which has already locked the merchant and decided the entry may be written.
 */
export async function appendMerchantLedger(ctx: ServiceCtx, db: Database | Transaction, orgId: string, input: MerchantLedgerEntryInput): Promise<void> {
  await db.insert(merchantLedger).values({
    id: newId("mel"),
    orgId,
    merchantId: input.merchantId,
    kind: input.kind,
    amount: input.amount,
    referenceType: input.reference?.type ?? null,
    referenceId: input.reference?.id ?? null,
    note: input.note ?? null,
    createdAt: ctx.now(),
  });
}

/** One merchant of the organisation with what we owe it, read through `db`. */
export async function loadMerchantView(ctx: ServiceCtx, db: Database | Transaction, orgId: string, id: string): Promise<MerchantView> {
  const row = await getMerchantInOrg(db, orgId, id);
  const [owed, currency] = await Promise.all([balanceOwed(db, orgId, id), orgCurrency({ ...ctx, db }, orgId)]);
  return merchantView(row, owed, currency);
}

/** Adds a merchant; an `opening_balance` (what we already owe) is its first ledger entry, in the same transaction. */
export async function createMerchant(ctx: ServiceCtx, input: CreateMerchantInput): Promise<MerchantView> {
  assertCan(ctx, "merchants:write");
  const orgId = requireOrgId(ctx);
  const currency = await orgCurrency(ctx, orgId);
  const now = ctx.now();
  const opening = input.opening_balance ?? 0;
  const row = await withTransaction(ctx, async (tx) => {
    const [created] = await tx
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
    if (!created) throw new Error("merchant insert returned no row");
    if (opening !== 0) {
      await appendMerchantLedger(ctx, tx, orgId, { merchantId: created.id, kind: "opening_balance", amount: opening, reference: null });
    }
    await recordAudit(
      { ...ctx, db: tx },
      { orgId, action: "merchant.created", targetType: "merchant", targetId: created.id, metadata: { name: created.name, opening_balance: opening } },
    );
    return created;
  });
  return merchantView(row, opening, currency);
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** Merchants that are not archived, oldest first, each with what we owe it from one grouped query. */
export async function listMerchants(ctx: ServiceCtx, query: MerchantListInput): Promise<Page<MerchantView>> {
  assertCan(ctx, "merchants:read");
  const orgId = requireOrgId(ctx);
  const currency = await orgCurrency(ctx, orgId);
  const balances = ctx.db
    .select({ merchantId: merchantLedger.merchantId, balance: sql<string>`sum(${merchantLedger.amount})`.as("balance") })
    .from(merchantLedger)
    .where(eq(merchantLedger.orgId, orgId))
    .groupBy(merchantLedger.merchantId)
    .as("balances");
  const owed = sql<number>`coalesce(${balances.balance}, 0)`;
  const filters: (SQL | undefined)[] = [eq(merchants.orgId, orgId), isNull(merchants.archivedAt)];
  if (query.cursor) filters.push(gt(merchants.id, query.cursor));
  if (query.q) {
    const pattern = `%${escapeLike(query.q)}%`;
    filters.push(or(ilike(merchants.name, pattern), ilike(merchants.phone, pattern), ilike(merchants.email, pattern)));
  }
  if (query.owing) filters.push(sql`${owed} > 0`);
  const rows = await ctx.db
    .select({ merchant: merchants, balance: owed.mapWith(Number) })
    .from(merchants)
    .leftJoin(balances, eq(balances.merchantId, merchants.id))
    .where(and(...filters))
    .orderBy(asc(merchants.id))
    .limit(query.limit + 1);
  return toPage(
    rows,
    query.limit,
    (r) => r.merchant.id,
    (r) => merchantView(r.merchant, r.balance, currency),
  );
}

/** One merchant of the organisation (archived ones too), with what we owe it. */
export async function getMerchant(ctx: ServiceCtx, id: string): Promise<MerchantView> {
  assertCan(ctx, "merchants:read");
  return loadMerchantView(ctx, ctx.db, requireOrgId(ctx), id);
}

/** Changes the given fields; `null` clears an optional one. What we owe is never edited here. */
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
  if (Object.keys(changes).length === 0) return loadMerchantView(ctx, ctx.db, orgId, id);
  const [row] = await ctx.db
    .update(merchants)
    .set({ ...changes, updatedAt: ctx.now() })
    .where(and(eq(merchants.id, id), eq(merchants.orgId, orgId)))
    .returning({ id: merchants.id });
  if (!row) throw new NotFound("merchant", id);
  await recordAudit(ctx, { orgId, action: "merchant.updated", targetType: "merchant", targetId: id, metadata: { fields: Object.keys(patch) } });
  return loadMerchantView(ctx, ctx.db, orgId, id);
}

/**
 * Archives a merchant: hidden from the list and closed to new purchases, kept with its
 * purchases, payments and ledger. What we still owe it can still be paid.
 */
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
    await getMerchantInOrg(ctx.db, orgId, id);
    return;
  }
  await recordAudit(ctx, { orgId, action: "merchant.archived", targetType: "merchant", targetId: id });
}

/** A merchant's ledger, newest first, each entry with what we owed right after it. */
export async function listMerchantLedger(ctx: ServiceCtx, merchantId: string, page: PageRequest): Promise<Page<MerchantLedgerEntryView>> {
  assertCan(ctx, "merchants:read");
  const orgId = requireOrgId(ctx);
  await getMerchantInOrg(ctx.db, orgId, merchantId);
  const currency = await orgCurrency(ctx, orgId);
  return runningLedgerPage<MerchantLedgerKind>(
    ctx.db,
    merchantLedger,
    and(eq(merchantLedger.orgId, orgId), eq(merchantLedger.merchantId, merchantId)),
    page,
    currency,
  );
}
