import { and, asc, desc, eq, ilike, inArray, lt, or, type SQL } from "drizzle-orm";
import { type Database, type Transaction, withTransaction } from "../../../db/client";
import { isUniqueViolation } from "../../../db/errors";
import { merchantPurchaseItems, merchantPurchases } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { AppError, Conflict, type FieldError, NotFound, Unprocessable } from "../../../lib/errors";
import { newId } from "../../../lib/ids";
import { type Page, toPage } from "../../../lib/pagination";
import { quantityText } from "../../../lib/quantity";
import { recordAudit } from "../../identity/audit/service";
import { assertCan, requireOrgId } from "../../identity/auth/principal";
import { thousandths } from "../bills/money";
import { adjustStock, getProduct, updateProduct } from "../products/service";
import { withStockRights } from "../products/stock-access";
import { purchaseLineTotal, quantityFromThousandths } from "./purchase-money";
import { type CreatePurchaseInput, MAX_MINOR_UNITS, type PurchaseItemView, type PurchaseListInput, type PurchaseView } from "./schemas";
import { appendMerchantLedger, getMerchantInOrg, orgCurrency } from "./service";

type PurchaseRow = typeof merchantPurchases.$inferSelect;
type PurchaseItemRow = typeof merchantPurchaseItems.$inferSelect;

function itemView(row: PurchaseItemRow): PurchaseItemView {
  return {
    id: row.id,
    position: row.position,
    product_id: row.productId,
    quantity: quantityText(row.quantity),
    unit_cost: row.unitCost,
    line_total: row.lineTotal,
  };
}

function purchaseView(row: PurchaseRow, items: PurchaseItemRow[]): PurchaseView {
  return {
    id: row.id,
    merchant_id: row.merchantId,
    reference: row.reference,
    purchased_on: row.purchasedOn,
    notes: row.notes,
    total: row.total,
    currency: row.currency,
    created_by: row.createdBy,
    created_at: row.createdAt.toISOString(),
    items: [...items].sort((a, b) => a.position - b.position).map(itemView),
  };
}

async function loadPurchaseView(db: Database | Transaction, row: PurchaseRow): Promise<PurchaseView> {
  const items = await db.select().from(merchantPurchaseItems).where(eq(merchantPurchaseItems.purchaseId, row.id)).orderBy(asc(merchantPurchaseItems.position));
  return purchaseView(row, items);
}

/**
 * The purchase an Idempotency-Key already made, or undefined. Keys are unique across the
 * organisation, so a key first used with another merchant is a 409, not a second purchase.
 */
async function purchaseForKey(db: Database | Transaction, orgId: string, merchantId: string, key: string): Promise<PurchaseView | undefined> {
  const [existing] = await db
    .select()
    .from(merchantPurchases)
    .where(and(eq(merchantPurchases.orgId, orgId), eq(merchantPurchases.idempotencyKey, key)));
  if (!existing) return undefined;
  if (existing.merchantId !== merchantId) throw new Conflict("This Idempotency-Key was already used for a purchase from another merchant");
  return loadPurchaseView(db, existing);
}

interface PricedItem {
  productId: string;
  quantity: string;
  unitCost: number;
  lineTotal: number;
}

/**
 * Prices every line and checks its product is one of the organisation's and not archived;
 * all problems come back in one 422, each under its item's path.
 */
async function priceItems(ctx: ServiceCtx, input: CreatePurchaseInput): Promise<{ items: PricedItem[]; total: number }> {
  const products = withStockRights(ctx, ctx.db);
  const errors: FieldError[] = [];
  const items: PricedItem[] = [];
  let total = 0n;
  for (const [index, item] of input.items.entries()) {
    const path = `items.${index}.product_id`;
    const product = await getProduct(products, item.product_id).catch((error: unknown) => {
      if (error instanceof AppError && error.status === 404) return null;
      throw error;
    });
    if (!product) errors.push({ path, message: `No product ${item.product_id} in this organisation` });
    else if (product.archived_at) errors.push({ path, message: `${product.name} is archived` });
    const lineTotal = purchaseLineTotal(item.quantity, item.unit_cost);
    total += lineTotal;
    items.push({ productId: item.product_id, quantity: item.quantity, unitCost: item.unit_cost, lineTotal: Number(lineTotal) });
  }
  if (total > BigInt(MAX_MINOR_UNITS)) errors.push({ path: "items", message: `The purchase total of ${total} is more than the largest amount Billx records` });
  if (errors.length > 0) throw new Unprocessable(errors);
  return { items, total: Number(total) };
}

/**
 * Records goods bought from a merchant, all in one transaction: the purchase and its lines, the
 * stock each line adds (reason `purchase`), each product's `cost` set to the unit cost just paid,
 * and the total added to what we owe the merchant. A repeated Idempotency-Key returns the first
 * purchase and changes nothing.
 */
export async function createPurchase(
  ctx: ServiceCtx,
  merchantId: string,
  input: CreatePurchaseInput,
  idempotencyKey: string | undefined,
): Promise<PurchaseView> {
  assertCan(ctx, "merchants:write");
  const orgId = requireOrgId(ctx);
  // The merchant is looked up before the products, so another organisation's merchant is a 404
  // whatever the body says.
  await getMerchantInOrg(ctx.db, orgId, merchantId);
  if (idempotencyKey) {
    // A replay answers with the first purchase even if a product has since been archived.
    const replay = await purchaseForKey(ctx.db, orgId, merchantId, idempotencyKey);
    if (replay) return replay;
  }
  const { items, total } = await priceItems(ctx, input);
  const currency = await orgCurrency(ctx, orgId);
  const id = newId("mpu");
  const now = ctx.now();
  try {
    return await withTransaction(ctx, async (tx) => {
      // Lock order, the same for every purchase and payment: merchant, then products by id.
      // Concurrent requests with one key queue on the merchant lock, and the second then sees
      // the first one's committed purchase below.
      const merchant = await getMerchantInOrg(tx, orgId, merchantId, true);
      if (idempotencyKey) {
        const replay = await purchaseForKey(tx, orgId, merchantId, idempotencyKey);
        if (replay) return replay;
      }
      if (merchant.archivedAt) throw new Conflict(`Merchant ${merchant.name} is archived; restore it or buy from another merchant`);
      const [purchase] = await tx
        .insert(merchantPurchases)
        .values({
          id,
          orgId,
          merchantId,
          reference: input.reference ?? null,
          total,
          currency,
          notes: input.notes ?? null,
          purchasedOn: input.purchased_on ?? now.toISOString().slice(0, 10),
          idempotencyKey: idempotencyKey ?? null,
          createdBy: ctx.actor?.userId ?? null,
          createdAt: now,
        })
        .returning();
      if (!purchase) throw new Error("purchase insert returned no row");
      const lines = await tx
        .insert(merchantPurchaseItems)
        .values(
          items.map((item, index) => ({
            id: newId("mpi"),
            purchaseId: id,
            position: index + 1,
            productId: item.productId,
            quantity: item.quantity,
            unitCost: item.unitCost,
            lineTotal: item.lineTotal,
          })),
        )
        .returning();

      // One movement per product (a product on two lines is received once, summed), in id order
      // so two purchases of the same products lock them in the same order and cannot deadlock.
      const perProduct = new Map<string, { quantity: bigint; unitCost: number }>();
      for (const item of items) {
        const entry = perProduct.get(item.productId) ?? { quantity: 0n, unitCost: item.unitCost };
        entry.quantity += thousandths(item.quantity);
        entry.unitCost = item.unitCost;
        perProduct.set(item.productId, entry);
      }
      const stock = withStockRights(ctx, tx);
      const label = input.reference ? `${id} (${input.reference})` : id;
      for (const productId of [...perProduct.keys()].sort()) {
        const entry = perProduct.get(productId);
        if (!entry) continue;
        await adjustStock(stock, {
          productId,
          change: quantityFromThousandths(entry.quantity),
          reason: "purchase",
          note: `Purchase ${label} from ${merchant.name}`,
        });
        await updateProduct(stock, productId, { cost: entry.unitCost });
      }

      if (total !== 0) {
        await appendMerchantLedger(ctx, tx, orgId, {
          merchantId,
          kind: "purchase",
          amount: total,
          reference: { type: "merchant_purchase", id },
          note: `Purchase ${label}`,
        });
      }
      await recordAudit(
        { ...ctx, db: tx },
        { orgId, action: "merchant.purchase_recorded", targetType: "merchant", targetId: merchantId, metadata: { purchase_id: id, total } },
      );
      return purchaseView(purchase, lines);
    });
  } catch (error) {
    // Another merchant's purchase took the key between our check and our insert.
    if (isUniqueViolation(error)) throw new Conflict("This Idempotency-Key was already used for another purchase");
    throw error;
  }
}

/** A merchant's purchases, newest first, each with its lines. */
export async function listPurchases(ctx: ServiceCtx, merchantId: string, query: PurchaseListInput): Promise<Page<PurchaseView>> {
  assertCan(ctx, "merchants:read");
  const orgId = requireOrgId(ctx);
  await getMerchantInOrg(ctx.db, orgId, merchantId);
  const filters: (SQL | undefined)[] = [eq(merchantPurchases.orgId, orgId), eq(merchantPurchases.merchantId, merchantId)];
  if (query.cursor) filters.push(lt(merchantPurchases.id, query.cursor));
  if (query.q) {
    const pattern = `%${query.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    filters.push(or(ilike(merchantPurchases.reference, pattern), ilike(merchantPurchases.notes, pattern)));
  }
  const rows = await ctx.db
    .select()
    .from(merchantPurchases)
    .where(and(...filters))
    .orderBy(desc(merchantPurchases.id))
    .limit(query.limit + 1);
  const ids = rows.slice(0, query.limit).map((r) => r.id);
  const items = ids.length > 0 ? await ctx.db.select().from(merchantPurchaseItems).where(inArray(merchantPurchaseItems.purchaseId, ids)) : [];
  return toPage(
    rows,
    query.limit,
    (r) => r.id,
    (r) =>
      purchaseView(
        r,
        items.filter((i) => i.purchaseId === r.id),
      ),
  );
}

/** One purchase from the merchant; 404 when it belongs to another merchant or organisation. */
export async function getPurchase(ctx: ServiceCtx, merchantId: string, purchaseId: string): Promise<PurchaseView> {
  assertCan(ctx, "merchants:read");
  const orgId = requireOrgId(ctx);
  await getMerchantInOrg(ctx.db, orgId, merchantId);
  const [row] = await ctx.db
    .select()
    .from(merchantPurchases)
    .where(and(eq(merchantPurchases.id, purchaseId), eq(merchantPurchases.orgId, orgId), eq(merchantPurchases.merchantId, merchantId)));
  if (!row) throw new NotFound("purchase", purchaseId);
  return loadPurchaseView(ctx.db, row);
}
