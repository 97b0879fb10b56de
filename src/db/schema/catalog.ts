import { sql } from "drizzle-orm";
import { type AnyPgColumn, bigint, index, integer, numeric, pgTable, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";
import { organizations, users } from "./tenancy";

/** Product categories of one organisation; a category may sit under another. */
export const productCategories = pgTable(
  "product_categories",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    parentId: text("parent_id").references((): AnyPgColumn => productCategories.id, { onDelete: "set null" }),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex("product_categories_org_name_key").on(t.orgId, sql`lower(${t.name})`)],
);

/**
 * What an organisation sells. Money is integer minor units in the organisation's currency;
 * quantities are numeric(14,3) so that sums stay exact (no floats anywhere).
 */
export const products = pgTable(
  "products",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    sku: text("sku"),
    barcode: text("barcode"),
    categoryId: text("category_id").references(() => productCategories.id, { onDelete: "set null" }),
    /** `piece|kg|g|l|ml|m|box|pack` or a unit name the organisation made up. */
    unit: text("unit").notNull().default("piece"),
    price: bigint("price", { mode: "number" }).notNull(),
    cost: bigint("cost", { mode: "number" }),
    taxRateBps: integer("tax_rate_bps").notNull().default(0),
    stockQuantity: numeric("stock_quantity", { precision: 14, scale: 3 }).notNull().default("0"),
    lowStockThreshold: numeric("low_stock_threshold", { precision: 14, scale: 3 }),
    /**
     * When owners were told the stock fell to or below the threshold; null while it is above.
     * Set by the alert run that claims the crossing, cleared when the stock rises above again.
     */
    lowStockAlertedAt: timestamp("low_stock_alerted_at", { withTimezone: true, mode: "date" }),
    archivedAt: timestamp("archived_at", { withTimezone: true, mode: "date" }),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("products_org_sku_key").on(t.orgId, t.sku),
    index("products_org_category_idx").on(t.orgId, t.categoryId),
    index("products_org_barcode_idx").on(t.orgId, t.barcode),
  ],
);

/** Every change of a product's stock, with the quantity it left behind. Append-only. */
export const stockMovements = pgTable(
  "stock_movements",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    productId: text("product_id")
      .notNull()
      .references(() => products.id, { onDelete: "cascade" }),
    change: numeric("change", { precision: 14, scale: 3 }).notNull(),
    /** `purchase|sale|return|correction|damage`. */
    reason: text("reason").notNull(),
    note: text("note"),
    quantityAfter: numeric("quantity_after", { precision: 14, scale: 3 }).notNull(),
    createdBy: text("created_by").references(() => users.id, { onDelete: "set null" }),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [index("stock_movements_product_idx").on(t.orgId, t.productId, t.id)],
);
