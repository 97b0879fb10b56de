import { z } from "@hono/zod-openapi";
import { pageQuery, pageSchema } from "../../../lib/pagination";

const PRODUCT_ID_EXAMPLE = "prod_01JD3X6W6X8Q3M1B0V4T2Y9ZKA";
const CATEGORY_ID_EXAMPLE = "cat_01JD3X6W6X8Q3M1B0V4T2Y9ZKB";
const MOVEMENT_ID_EXAMPLE = "stk_01JD3X6W6X8Q3M1B0V4T2Y9ZKC";

/** Units Billx names itself; an organisation may use any other short unit name too. */
export const STANDARD_UNITS = ["piece", "kg", "g", "l", "ml", "m", "box", "pack"] as const;
export const STOCK_REASONS = ["purchase", "sale", "return", "correction", "damage"] as const;
/** Reasons whose change may take stock away; purchases and returns only add. */
const DECREASING_REASONS: readonly string[] = ["sale", "correction", "damage"];

// numeric(14,3): at most 11 digits before the point and 3 after.
const DECIMAL = /^-?\d{1,11}(\.\d{1,3})?$/;

/**
 * A quantity as a number or a decimal string, normalised to the string Postgres will parse.
 * Kept as a string so no float arithmetic ever touches it; the sums happen in SQL numeric.
 */
function quantity(description: string, example: string) {
  return z
    .union([z.number().finite(), z.string().trim()])
    .transform((value, ctx) => {
      const text = typeof value === "number" ? String(value) : value;
      if (!DECIMAL.test(text)) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: "A decimal with at most 11 digits before the point and 3 after" });
        return z.NEVER;
      }
      return text;
    })
    .openapi({ description: `${description}. A number or a decimal string, at most 3 decimals`, example });
}

const Quantity = z.string().openapi({ description: "A decimal string with exactly 3 decimals", example: "12.500" });
const Timestamp = (description: string, example: string | null = "2026-05-01T12:00:00.000Z") => z.string().openapi({ description, example });

const Unit = z
  .string()
  .trim()
  .min(1)
  .max(20)
  .regex(/^[\p{L}\p{N} ._-]+$/u, "Letters, digits, spaces, dots, dashes and underscores only")
  .openapi({ description: `How the product is counted: ${STANDARD_UNITS.join(", ")}, or a unit name of your own`, example: "kg" });

export const Category = z
  .object({
    id: z.string().openapi({ description: "Category id", example: CATEGORY_ID_EXAMPLE }),
    name: z.string().openapi({ description: "Name, unique in the organisation regardless of case", example: "Beverages" }),
    parent_id: z.string().nullable().openapi({ description: "The category this one sits under, or null", example: null }),
    created_at: Timestamp("When the category was created"),
    updated_at: Timestamp("When the category last changed"),
  })
  .openapi("ProductCategory");

export const CreateCategoryBody = z
  .object({
    name: z.string().trim().min(1).max(100).openapi({ description: "Name, unique in the organisation regardless of case", example: "Beverages" }),
    parent_id: z.string().max(100).nullable().optional().openapi({ description: "A category of the organisation to sit under", example: null }),
  })
  .openapi("CreateProductCategoryRequest");

export const UpdateCategoryBody = CreateCategoryBody.partial().openapi("UpdateProductCategoryRequest");

export const Product = z
  .object({
    id: z.string().openapi({ description: "Product id", example: PRODUCT_ID_EXAMPLE }),
    name: z.string().openapi({ description: "Name shown on bills", example: "Arabica beans 1kg" }),
    sku: z.string().nullable().openapi({ description: "Stock keeping unit, unique in the organisation", example: "COF-ARA-1K" }),
    barcode: z.string().nullable().openapi({ description: "EAN/UPC or any scanned code", example: "4006381333931" }),
    category_id: z.string().nullable().openapi({ description: "Category id, or null", example: CATEGORY_ID_EXAMPLE }),
    unit: z.string().openapi({ description: "How the product is counted", example: "kg" }),
    price: z.number().int().openapi({ description: "Selling price per unit in minor units of `currency`", example: 1850 }),
    cost: z.number().int().nullable().openapi({ description: "Purchase cost per unit in minor units, or null", example: 1200 }),
    currency: z.string().openapi({ description: "ISO 4217 currency of the organisation", example: "USD" }),
    tax_rate_bps: z.number().int().openapi({ description: "Tax rate in basis points (1800 = 18%)", example: 1800 }),
    stock_quantity: Quantity,
    low_stock_threshold: Quantity.nullable().openapi({ description: "At or below this, the product counts as low on stock; null for never", example: "2.000" }),
    archived_at: z.string().nullable().openapi({ description: "When the product was archived, or null while it is on sale", example: null }),
    created_at: Timestamp("When the product was created"),
    updated_at: Timestamp("When the product last changed"),
  })
  .openapi("Product");

const money = (description: string, example: number) =>
  z
    .number()
    .int()
    .min(0)
    .max(Number.MAX_SAFE_INTEGER)
    .openapi({ description: `${description}, in minor units of the organisation's currency`, example });

export const CreateProductBody = z
  .object({
    name: z.string().trim().min(1).max(200).openapi({ description: "Name shown on bills", example: "Arabica beans 1kg" }),
    sku: z
      .string()
      .trim()
      .min(1)
      .max(64)
      .nullable()
      .optional()
      .openapi({ description: "Stock keeping unit, unique in the organisation", example: "COF-ARA-1K" }),
    barcode: z.string().trim().min(1).max(64).nullable().optional().openapi({ description: "EAN/UPC or any scanned code", example: "4006381333931" }),
    category_id: z.string().max(100).nullable().optional().openapi({ description: "A category of the organisation", example: null }),
    unit: Unit.default("piece"),
    price: money("Selling price per unit", 1850),
    cost: money("Purchase cost per unit", 1200).nullable().optional(),
    tax_rate_bps: z
      .number()
      .int()
      .min(0)
      .max(10000)
      .optional()
      .openapi({ description: "Tax rate in basis points (1800 = 18%); the organisation's bills.default_tax_rate_bps when omitted", example: 1800 }),
    stock_quantity: quantity("Opening stock (recorded as a `correction` movement when not zero)", "10.000").optional(),
    low_stock_threshold: quantity("At or below this, the product counts as low on stock", "2").nullable().optional(),
  })
  .openapi("CreateProductRequest");

export const UpdateProductBody = CreateProductBody.omit({ stock_quantity: true })
  .partial()
  .extend({
    unit: Unit.optional(),
    tax_rate_bps: z.number().int().min(0).max(10000).optional().openapi({ description: "Tax rate in basis points", example: 1800 }),
  })
  .openapi("UpdateProductRequest");

export const StockMovement = z
  .object({
    id: z.string().openapi({ description: "Movement id", example: MOVEMENT_ID_EXAMPLE }),
    product_id: z.string().openapi({ description: "Product id", example: PRODUCT_ID_EXAMPLE }),
    change: Quantity.openapi({ description: "Signed change of stock, 3 decimals", example: "-1.000" }),
    reason: z.enum(STOCK_REASONS).openapi({ description: "Why the stock changed", example: "sale" }),
    note: z.string().nullable().openapi({ description: "Free text, or null", example: null }),
    quantity_after: Quantity.openapi({ description: "Stock right after this movement", example: "9.000" }),
    created_by: z
      .string()
      .nullable()
      .openapi({ description: "User who made the change, or null (API key, system)", example: "usr_01JD3X6W6X8Q3M1B0V4T2Y9ZKD" }),
    created_at: Timestamp("When the stock changed"),
  })
  .openapi("StockMovement");

export const AdjustStockBody = z
  .object({
    change: quantity("Signed change; negative only for sale, damage or correction", "-1"),
    reason: z.enum(STOCK_REASONS).openapi({ description: "Why the stock changes", example: "sale" }),
    note: z.string().trim().max(500).optional().openapi({ description: "Free text kept with the movement", example: "Counted on shelf" }),
  })
  .superRefine((body, ctx) => {
    if (/^-?0+(\.0+)?$/.test(body.change)) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["change"], message: "A change cannot be zero" });
    else if (body.change.startsWith("-") && !DECREASING_REASONS.includes(body.reason)) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["change"], message: `A ${body.reason} can only add stock` });
    }
  })
  .openapi("AdjustStockRequest");

export const StockAdjustment = z.object({ movement: StockMovement, product: Product }).openapi("StockAdjustment");

export const CategoryList = pageSchema(Category, "ProductCategoryList", { data: "Categories of the organisation, oldest first" });
export const ProductList = pageSchema(Product, "ProductList", { data: "Products of the organisation that are not archived, oldest first" });
export const StockMovementList = pageSchema(StockMovement, "StockMovementList", {
  data: "Movements of the product, newest first",
  nextCursor: "Pass as `cursor` for older movements; null on the last page",
});

export const CategoryListQuery = pageQuery({ defaultLimit: 50, cursorExample: CATEGORY_ID_EXAMPLE });
export const StockMovementListQuery = pageQuery({ defaultLimit: 50, cursorExample: MOVEMENT_ID_EXAMPLE });
export const ProductListQuery = pageQuery({ defaultLimit: 50, cursorExample: PRODUCT_ID_EXAMPLE }).extend({
  q: z.string().trim().min(1).max(100).optional().openapi({ description: "Matches name, SKU or barcode, case-insensitive", example: "arabica" }),
  category_id: z.string().max(100).optional().openapi({ description: "Only products of this category", example: CATEGORY_ID_EXAMPLE }),
  low_stock: z
    .enum(["true", "false"])
    .transform((v) => v === "true")
    .optional()
    .openapi({ description: "`true`: only products at or below their low-stock threshold", example: "true" }),
});

const idParam = (description: string, example: string) =>
  z.object({
    id: z
      .string()
      .max(100)
      .openapi({ param: { name: "id", in: "path" }, description, example }),
  });
export const ProductIdParam = idParam("Product id", PRODUCT_ID_EXAMPLE);
export const CategoryIdParam = idParam("Category id", CATEGORY_ID_EXAMPLE);

export type CategoryView = z.infer<typeof Category>;
export type ProductView = z.infer<typeof Product>;
export type StockMovementView = z.infer<typeof StockMovement>;
export type CreateCategoryInput = z.infer<typeof CreateCategoryBody>;
export type UpdateCategoryInput = z.infer<typeof UpdateCategoryBody>;
export type CreateProductInput = z.infer<typeof CreateProductBody>;
export type UpdateProductInput = z.infer<typeof UpdateProductBody>;
export type ProductListInput = z.infer<typeof ProductListQuery>;
export type StockReason = (typeof STOCK_REASONS)[number];
export type StockAdjustmentInput = { productId: string; change: string; reason: StockReason; note?: string };
