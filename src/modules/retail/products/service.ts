import { and, asc, desc, eq, gt, ilike, inArray, isNotNull, isNull, lt, lte, or, sql } from "drizzle-orm";
import { type Database, withTransaction } from "../../../db/client";
import { isUniqueViolation } from "../../../db/errors";
import { organizations, productCategories, products, stockMovements } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { Conflict, NotFound, Unprocessable } from "../../../lib/errors";
import { newId } from "../../../lib/ids";
import { type Page, type PageRequest, toPage } from "../../../lib/pagination";
import { quantityText } from "../../../lib/quantity";
import { recordAudit } from "../../identity/audit/service";
import { assertCan, requireOrgId } from "../../identity/auth/principal";
import { billSettingsFor } from "../../identity/org-settings/service";
import { loadOrg } from "../../identity/orgs/service";
import type {
  CategoryView,
  CreateCategoryInput,
  CreateProductInput,
  ProductListInput,
  ProductView,
  StockAdjustmentInput,
  StockMovementView,
  StockReason,
  UpdateCategoryInput,
  UpdateProductInput,
} from "./schemas";

/*
 * Stock never goes below zero: there is no per-organisation "allow negative stock" setting yet.
 * The guard lives in adjustStock's UPDATE; adding the setting means relaxing that one condition.
 */

type CategoryRow = typeof productCategories.$inferSelect;
type ProductRow = typeof products.$inferSelect;
type MovementRow = typeof stockMovements.$inferSelect;

function categoryView(row: CategoryRow): CategoryView {
  return {
    id: row.id,
    name: row.name,
    parent_id: row.parentId,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

function productView(row: ProductRow, currency: string): ProductView {
  return {
    id: row.id,
    name: row.name,
    sku: row.sku,
    barcode: row.barcode,
    category_id: row.categoryId,
    unit: row.unit,
    price: row.price,
    cost: row.cost,
    currency,
    tax_rate_bps: row.taxRateBps,
    stock_quantity: quantityText(row.stockQuantity),
    low_stock_threshold: row.lowStockThreshold === null ? null : quantityText(row.lowStockThreshold),
    archived_at: row.archivedAt?.toISOString() ?? null,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

function movementView(row: MovementRow): StockMovementView {
  return {
    id: row.id,
    product_id: row.productId,
    change: quantityText(row.change),
    reason: row.reason as StockReason,
    note: row.note,
    quantity_after: quantityText(row.quantityAfter),
    created_by: row.createdBy,
    created_at: row.createdAt.toISOString(),
  };
}

async function orgCurrency(ctx: ServiceCtx, orgId: string): Promise<string> {
  return (await loadOrg(ctx.db, orgId, null)).currency;
}

async function categoryExists(db: Database, orgId: string, id: string): Promise<boolean> {
  const [row] = await db
    .select({ id: productCategories.id })
    .from(productCategories)
    .where(and(eq(productCategories.id, id), eq(productCategories.orgId, orgId)));
  return row !== undefined;
}

async function requireCategoryField(db: Database, orgId: string, id: string | null | undefined, field: string): Promise<void> {
  if (id && !(await categoryExists(db, orgId, id))) {
    throw new Unprocessable([{ path: field, message: `No category ${id} in this organisation` }]);
  }
}

// ---- categories -------------------------------------------------------------------------

export async function listCategories(ctx: ServiceCtx, page: PageRequest): Promise<Page<CategoryView>> {
  assertCan(ctx, "products:read");
  const orgId = requireOrgId(ctx);
  const rows = await ctx.db
    .select()
    .from(productCategories)
    .where(and(eq(productCategories.orgId, orgId), page.cursor ? gt(productCategories.id, page.cursor) : undefined))
    .orderBy(asc(productCategories.id))
    .limit(page.limit + 1);
  return toPage(rows, page.limit, (r) => r.id, categoryView);
}

export async function createCategory(ctx: ServiceCtx, input: CreateCategoryInput): Promise<CategoryView> {
  assertCan(ctx, "products:write");
  const orgId = requireOrgId(ctx);
  await requireCategoryField(ctx.db, orgId, input.parent_id, "parent_id");
  try {
    const [row] = await ctx.db
      .insert(productCategories)
      .values({ id: newId("cat"), orgId, name: input.name, parentId: input.parent_id ?? null, createdAt: ctx.now(), updatedAt: ctx.now() })
      .returning();
    if (!row) throw new Error("insert returned no row");
    return categoryView(row);
  } catch (error) {
    if (isUniqueViolation(error)) throw new Conflict(`A category named ${input.name} already exists`);
    throw error;
  }
}

/** Whether `candidate` is `id` or sits (transitively) under it: making it the parent would close a loop. */
async function isSelfOrDescendant(db: Database, orgId: string, id: string, candidate: string): Promise<boolean> {
  // Walks up from the candidate; categories are few levels deep, and the bound stops a loop
  // that a concurrent move might have closed.
  let current: string | null = candidate;
  for (let depth = 0; current && depth < 100; depth++) {
    if (current === id) return true;
    const [row]: { parentId: string | null }[] = await db
      .select({ parentId: productCategories.parentId })
      .from(productCategories)
      .where(and(eq(productCategories.id, current), eq(productCategories.orgId, orgId)));
    current = row?.parentId ?? null;
  }
  return false;
}

export async function updateCategory(ctx: ServiceCtx, id: string, patch: UpdateCategoryInput): Promise<CategoryView> {
  assertCan(ctx, "products:write");
  const orgId = requireOrgId(ctx);
  if (!(await categoryExists(ctx.db, orgId, id))) throw new NotFound("product_category", id);
  if (patch.parent_id) {
    await requireCategoryField(ctx.db, orgId, patch.parent_id, "parent_id");
    if (await isSelfOrDescendant(ctx.db, orgId, id, patch.parent_id)) {
      throw new Unprocessable([{ path: "parent_id", message: "A category cannot sit under itself or one of its own subcategories" }]);
    }
  }
  try {
    const [row] = await ctx.db
      .update(productCategories)
      .set({ name: patch.name, parentId: patch.parent_id, updatedAt: ctx.now() })
      .where(and(eq(productCategories.id, id), eq(productCategories.orgId, orgId)))
      .returning();
    if (!row) throw new NotFound("product_category", id);
    return categoryView(row);
  } catch (error) {
    if (isUniqueViolation(error)) throw new Conflict(`A category named ${patch.name} already exists`);
    throw error;
  }
}

/** Deletes a category; its products and subcategories keep existing without it. */
export async function deleteCategory(ctx: ServiceCtx, id: string): Promise<void> {
  assertCan(ctx, "products:write");
  const orgId = requireOrgId(ctx);
  const deleted = await ctx.db
    .delete(productCategories)
    .where(and(eq(productCategories.id, id), eq(productCategories.orgId, orgId)))
    .returning({ id: productCategories.id });
  if (deleted.length === 0) throw new NotFound("product_category", id);
}

// ---- products ---------------------------------------------------------------------------

async function getProductRow(db: Database, orgId: string, id: string): Promise<ProductRow> {
  const [row] = await db
    .select()
    .from(products)
    .where(and(eq(products.id, id), eq(products.orgId, orgId)));
  if (!row) throw new NotFound("product", id);
  return row;
}

function likePattern(q: string): string {
  return `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** Products that are not archived, oldest first, filtered by text, category or low stock. */
export async function listProducts(ctx: ServiceCtx, query: ProductListInput): Promise<Page<ProductView>> {
  assertCan(ctx, "products:read");
  const orgId = requireOrgId(ctx);
  const pattern = query.q ? likePattern(query.q) : undefined;
  const rows = await ctx.db
    .select()
    .from(products)
    .where(
      and(
        eq(products.orgId, orgId),
        isNull(products.archivedAt),
        query.cursor ? gt(products.id, query.cursor) : undefined,
        pattern ? or(ilike(products.name, pattern), ilike(products.sku, pattern), ilike(products.barcode, pattern)) : undefined,
        query.category_id ? eq(products.categoryId, query.category_id) : undefined,
        query.low_stock ? and(isNotNull(products.lowStockThreshold), lte(products.stockQuantity, products.lowStockThreshold)) : undefined,
      ),
    )
    .orderBy(asc(products.id))
    .limit(query.limit + 1);
  const currency = await orgCurrency(ctx, orgId);
  return toPage(
    rows,
    query.limit,
    (r) => r.id,
    (r) => productView(r, currency),
  );
}

export async function getProduct(ctx: ServiceCtx, id: string): Promise<ProductView> {
  assertCan(ctx, "products:read");
  const orgId = requireOrgId(ctx);
  const row = await getProductRow(ctx.db, orgId, id);
  return productView(row, await orgCurrency(ctx, orgId));
}

/** Several products of the active organisation by id, in one read (bills price all their lines at once). */
export async function getProducts(ctx: ServiceCtx, ids: string[]): Promise<Map<string, ProductView>> {
  assertCan(ctx, "products:read");
  const orgId = requireOrgId(ctx);
  if (ids.length === 0) return new Map();
  const [rows, currency] = await Promise.all([
    ctx.db
      .select()
      .from(products)
      .where(and(eq(products.orgId, orgId), inArray(products.id, [...new Set(ids)]))),
    orgCurrency(ctx, orgId),
  ]);
  return new Map(rows.map((row) => [row.id, productView(row, currency)]));
}

function duplicateSku(sku: string | null | undefined): Conflict {
  return new Conflict(`A product with SKU ${sku} already exists`);
}

/** Creates a product; a non-zero opening stock is recorded as a `correction` movement. */
export async function createProduct(ctx: ServiceCtx, input: CreateProductInput): Promise<ProductView> {
  assertCan(ctx, "products:write");
  const orgId = requireOrgId(ctx);
  if (input.stock_quantity?.startsWith("-")) throw new Unprocessable([{ path: "stock_quantity", message: "Opening stock cannot be negative" }]);
  await requireCategoryField(ctx.db, orgId, input.category_id, "category_id");
  const { currency, default_tax_rate_bps } = await billSettingsFor(ctx, orgId);
  const id = newId("prod");
  try {
    const row = await withTransaction(ctx, async (tx) => {
      const [created] = await tx
        .insert(products)
        .values({
          id,
          orgId,
          name: input.name,
          sku: input.sku ?? null,
          barcode: input.barcode ?? null,
          categoryId: input.category_id ?? null,
          unit: input.unit,
          price: input.price,
          cost: input.cost ?? null,
          taxRateBps: input.tax_rate_bps ?? default_tax_rate_bps,
          stockQuantity: input.stock_quantity ?? "0",
          lowStockThreshold: input.low_stock_threshold ?? null,
          createdAt: ctx.now(),
          updatedAt: ctx.now(),
        })
        .returning();
      if (!created) throw new Error("insert returned no row");
      if (!/^0+(\.0+)?$/.test(created.stockQuantity)) {
        await tx.insert(stockMovements).values({
          id: newId("stk"),
          orgId,
          productId: id,
          change: created.stockQuantity,
          reason: "correction",
          note: "Opening stock",
          quantityAfter: created.stockQuantity,
          createdBy: ctx.actor?.userId ?? null,
          createdAt: ctx.now(),
        });
      }
      return created;
    });
    await recordAudit(ctx, { orgId, action: "product.created", targetType: "product", targetId: id, metadata: { name: input.name, sku: input.sku ?? null } });
    return productView(row, currency);
  } catch (error) {
    if (isUniqueViolation(error)) throw duplicateSku(input.sku);
    throw error;
  }
}

/** Changes a product's details; stock only changes through adjustStock. */
export async function updateProduct(ctx: ServiceCtx, id: string, patch: UpdateProductInput): Promise<ProductView> {
  assertCan(ctx, "products:write");
  const orgId = requireOrgId(ctx);
  await getProductRow(ctx.db, orgId, id);
  await requireCategoryField(ctx.db, orgId, patch.category_id, "category_id");
  try {
    const [row] = await ctx.db
      .update(products)
      .set({
        name: patch.name,
        sku: patch.sku,
        barcode: patch.barcode,
        categoryId: patch.category_id,
        unit: patch.unit,
        price: patch.price,
        cost: patch.cost,
        taxRateBps: patch.tax_rate_bps,
        lowStockThreshold: patch.low_stock_threshold,
        updatedAt: ctx.now(),
      })
      .where(and(eq(products.id, id), eq(products.orgId, orgId)))
      .returning();
    if (!row) throw new NotFound("product", id);
    return productView(row, await orgCurrency(ctx, orgId));
  } catch (error) {
    if (isUniqueViolation(error)) throw duplicateSku(patch.sku);
    throw error;
  }
}

/**
 * Archives a product: it leaves the list but stays readable, so past bills and movements keep
 * pointing at it. Archiving twice keeps the first time.
 */
export async function archiveProduct(ctx: ServiceCtx, id: string): Promise<void> {
  assertCan(ctx, "products:write");
  const orgId = requireOrgId(ctx);
  const archived = await ctx.db
    .update(products)
    .set({ archivedAt: ctx.now(), updatedAt: ctx.now() })
    .where(and(eq(products.id, id), eq(products.orgId, orgId), isNull(products.archivedAt)))
    .returning({ id: products.id });
  if (archived.length === 0) {
    await getProductRow(ctx.db, orgId, id);
    return;
  }
  await recordAudit(ctx, { orgId, action: "product.archived", targetType: "product", targetId: id });
}

// ---- stock ------------------------------------------------------------------------------

/**
 * Changes a product's stock by `change` (a decimal string, signed) and records the movement, in
 * one transaction. Bills call this when they are issued. A change that would take the stock
 * below zero is a 409 naming the current stock, and nothing changes, unless the organisation
 * allows negative stock.
 */
export async function adjustStock(ctx: ServiceCtx, input: StockAdjustmentInput): Promise<{ movement: StockMovementView; product: ProductView }> {
  const { row, movement } = await changeStock(ctx, input);
  return { movement: movementView(movement), product: productView(row, await orgCurrency(ctx, requireOrgId(ctx))) };
}

/** The same stock change for services that do not show the product afterwards (bills): no view, one read less. */
export async function moveStock(ctx: ServiceCtx, input: StockAdjustmentInput): Promise<void> {
  await changeStock(ctx, input);
}

async function changeStock(ctx: ServiceCtx, input: StockAdjustmentInput): Promise<{ row: ProductRow; movement: typeof stockMovements.$inferSelect }> {
  assertCan(ctx, "products:write");
  const orgId = requireOrgId(ctx);
  return withTransaction(ctx, async (tx) => {
    // One statement checks and changes the stock: two sales of the last unit read "1 left" at
    // the same time, and a read-then-write would let both through. Here the second one's UPDATE
    // waits on the row lock, re-evaluates the condition against the new stock and matches nothing.
    const [updated] = await tx
      .update(products)
      .set({
        stockQuantity: sql`${products.stockQuantity} + ${input.change}::numeric`,
        // Rising above the threshold ends the crossing, so falling again alerts again even between two alert runs.
        lowStockAlertedAt: sql`case when ${products.stockQuantity} + ${input.change}::numeric > ${products.lowStockThreshold} then null else ${products.lowStockAlertedAt} end`,
        updatedAt: ctx.now(),
      })
      .where(
        and(
          eq(products.id, input.productId),
          eq(products.orgId, orgId),
          or(
            sql`${products.stockQuantity} + ${input.change}::numeric >= 0`,
            sql`exists (select 1 from ${organizations} where ${organizations.id} = ${orgId} and ${organizations.allowNegativeStock})`,
          ),
        ),
      )
      .returning();
    if (!updated) {
      const current = await getProductRow(tx, orgId, input.productId);
      throw new Conflict(`Not enough stock: ${current.stockQuantity} ${current.unit} left, the change is ${input.change}`);
    }
    const [created] = await tx
      .insert(stockMovements)
      .values({
        id: newId("stk"),
        orgId,
        productId: updated.id,
        change: input.change,
        reason: input.reason,
        note: input.note ?? null,
        quantityAfter: updated.stockQuantity,
        createdBy: ctx.actor?.userId ?? null,
        createdAt: ctx.now(),
      })
      .returning();
    if (!created) throw new Error("insert returned no row");
    return { row: updated, movement: created };
  });
}

/** A product's movements, newest first. */
export async function listStockMovements(ctx: ServiceCtx, productId: string, page: PageRequest): Promise<Page<StockMovementView>> {
  assertCan(ctx, "products:read");
  const orgId = requireOrgId(ctx);
  await getProductRow(ctx.db, orgId, productId);
  const rows = await ctx.db
    .select()
    .from(stockMovements)
    .where(and(eq(stockMovements.orgId, orgId), eq(stockMovements.productId, productId), page.cursor ? lt(stockMovements.id, page.cursor) : undefined))
    .orderBy(desc(stockMovements.id))
    .limit(page.limit + 1);
  return toPage(rows, page.limit, (r) => r.id, movementView);
}
