import { z } from "@hono/zod-openapi";
import { pageQuery, pageSchema } from "../../../lib/pagination";

const CUSTOMER_ID_EXAMPLE = "cus_01JD3X6W6X8Q3M1B0V4T2Y9ZKA";
const PRODUCT_ID_EXAMPLE = "prod_01JD3X6W6X8Q3M1B0V4T2Y9ZKD";

/** Which bills a period's revenue counts; shown in the OpenAPI document of every endpoint that uses it. */
export const REVENUE_RULE =
  "revenue = Σ(total − amount_refunded) over the bills issued in [from, to) whose status is not draft or void " +
  "(paid, partially paid, unpaid and refunded bills all count); bill_count = how many such bills.";

export const PERIOD_RULE =
  "The period is [from, to): `from` included, `to` excluded, in UTC. Each is an ISO date (`2026-05-01`, midnight UTC) " +
  "or an ISO date-time with `Z` or an offset (`2026-05-01T09:30:00+05:30`). Without either, the period is the last 30 UTC days " +
  "up to now (from midnight 29 days ago to the coming midnight, so the answer stays the same all day); with only one, the other " +
  "is 30 days away from it. `to` must be after `from`, and the period at most 5 years long (else 422).";

/** `YYYY-MM-DD` or an ISO date-time that says its offset; anything else is ambiguous about the day. */
const INSTANT = /^(\d{4})-(\d{2})-(\d{2})(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:\d{2}))?$/;

/**
 * Parses a `from`/`to` value. A `+` in an offset arrives as a space when the client forgot to
 * percent-encode it (form encoding), so a space before the offset is read as `+`.
 */
function parseInstant(value: string): Date | null {
  const text = value.replace(/ (\d{2}:\d{2})$/, "+$1");
  const match = INSTANT.exec(text);
  if (!match) return null;
  const [, year, month, day] = match.map(Number) as [number, number, number, number];
  // Date.parse rolls 2026-02-30 over to March; a calendar check refuses it instead.
  const calendar = new Date(Date.UTC(year, month - 1, day));
  if (calendar.getUTCFullYear() !== year || calendar.getUTCMonth() !== month - 1 || calendar.getUTCDate() !== day) return null;
  const time = Date.parse(text);
  return Number.isNaN(time) ? null : new Date(time);
}

const Instant = (description: string, example: string) =>
  z
    .string()
    .trim()
    .transform((value, ctx) => {
      const parsed = parseInstant(value);
      if (!parsed) {
        ctx.addIssue({ code: "custom", message: "An ISO date (2026-05-01) or date-time with Z or an offset (2026-05-01T09:30:00Z)" });
        return z.NEVER;
      }
      return parsed;
    })
    .optional()
    .openapi({ description, example, type: "string" });

export const PeriodQuery = z.object({
  from: Instant("Start of the period, included", "2026-04-01"),
  to: Instant("End of the period, excluded", "2026-05-01"),
});

const Money = (description: string, example: number) =>
  z
    .number()
    .int()
    .openapi({ description: `${description}, in minor units of \`currency\``, example });

const periodFields = {
  from: z.string().openapi({ description: "Start of the period (included), UTC", example: "2026-04-01T00:00:00.000Z" }),
  to: z.string().openapi({ description: "End of the period (excluded), UTC", example: "2026-05-01T00:00:00.000Z" }),
  currency: z.string().openapi({ description: "ISO 4217 currency of every amount: the organisation's currency", example: "USD" }),
};

export const Summary = z
  .object({
    ...periodFields,
    revenue: Money("Σ(total − amount_refunded) of the bills issued in the period, except drafts and void bills", 1254300),
    collected: Money(
      "Money received in the period: bill payments (not those paid from credit already on account) + the part of payments on account " +
        "not allocated to a bill − refunds, each by when it was recorded",
      980000,
    ),
    outstanding: Money("Σ(total − amount_paid) over every issued or partially paid bill now, whenever it was issued", 274300),
    bill_count: z.number().int().openapi({ description: "Bills issued in the period, except drafts and void bills", example: 212 }),
    average_bill: Money("round_half_up(revenue / bill_count); 0 without bills", 5917),
    new_customers: z.number().int().openapi({ description: "Customers added in the period", example: 14 }),
  })
  .openapi("DashboardSummary", { description: REVENUE_RULE });

export const TopCustomersQuery = PeriodQuery.extend({
  limit: z.coerce.number().int().min(1).max(100).default(10).openapi({ description: "How many customers, 1 to 100", example: 10 }),
});

export const TopCustomer = z
  .object({
    customer_id: z.string().openapi({ description: "Customer id", example: CUSTOMER_ID_EXAMPLE }),
    name: z.string().openapi({ description: "Customer's name", example: "Asha Traders" }),
    revenue: Money("Revenue from this customer's bills in the period (same rule as the summary)", 320000),
    bill_count: z.number().int().openapi({ description: "This customer's bills counted in that revenue", example: 18 }),
    balance: Money("What the customer owes now (sum of their ledger); negative means credit on account", 42000),
  })
  .openapi("DashboardTopCustomer");

export const TopCustomers = z
  .object({
    ...periodFields,
    data: z.array(TopCustomer).openapi({ description: "Customers by revenue in the period, highest first; walk-in bills count for none", example: [] }),
  })
  .openapi("DashboardTopCustomers", { description: REVENUE_RULE });

export const SALES_GROUPS = ["day", "week", "month", "product", "category"] as const;
export type SalesGroup = (typeof SALES_GROUPS)[number];

export const SALES_RULE =
  "day, week (ISO, from Monday) and month: one row per UTC bucket of the period in time order, empty buckets included with zeros; " +
  "revenue and bill_count as in the summary. product and category: Σ line_total of the lines of the bills counted in revenue, " +
  "highest first; a bill-level discount and refunds are not spread over lines, so these rows can add up to more than the summary's " +
  "revenue. Products without a category are keyed `uncategorised`; lines without a product are keyed `other`.";

export const SalesQuery = PeriodQuery.extend({
  group_by: z.enum(SALES_GROUPS).default("day").openapi({ description: "How to group the sales", example: "day" }),
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(500)
    .default(100)
    .openapi({ description: "Most rows for product or category, 1 to 500 (time buckets always cover the whole period)", example: 100 }),
});

export const SalesRow = z
  .object({
    key: z.string().openapi({
      description: "Bucket start date (YYYY-MM-DD), product id or category id; `uncategorised` or `other` as described above",
      example: "2026-04-27",
    }),
    label: z.string().openapi({ description: "What to show: the date, ISO week (2026-W18), month (2026-04), product or category name", example: "2026-W18" }),
    revenue: Money("Revenue of the bucket, or Σ line_total of the product's or category's lines", 184500),
    bill_count: z.number().int().openapi({ description: "Bills counted in the row", example: 31 }),
    quantity: z
      .string()
      .nullable()
      .openapi({ description: "Quantity sold, 3 decimals (product and category only; a category adds up its products' units as they are)", example: "42.500" }),
  })
  .openapi("DashboardSalesRow");

export const Sales = z
  .object({
    ...periodFields,
    group_by: z.enum(SALES_GROUPS).openapi({ description: "How the rows are grouped", example: "day" }),
    data: z.array(SalesRow).openapi({ description: "The rows, ordered as described", example: [] }),
  })
  .openapi("DashboardSales", { description: SALES_RULE });

/** `<shortfall>:<product id>`: the list is ordered by shortfall, so the cursor has to carry it. */
const LOW_STOCK_CURSOR = /^\d{1,12}(\.\d{1,3})?:[A-Za-z0-9_]{1,100}$/;

export const LowStockQuery = pageQuery({ defaultLimit: 50, cursorExample: `3.000:${PRODUCT_ID_EXAMPLE}` }).extend({
  cursor: z
    .string()
    .regex(LOW_STOCK_CURSOR, "Pass next_cursor of the previous page unchanged")
    .optional()
    .openapi({ description: "`next_cursor` of the previous page", example: `3.000:${PRODUCT_ID_EXAMPLE}` }),
  q: z.string().trim().min(1).max(100).optional().openapi({ description: "Matches name, SKU or barcode, case-insensitive", example: "arabica" }),
});

export const LowStockProduct = z
  .object({
    id: z.string().openapi({ description: "Product id", example: PRODUCT_ID_EXAMPLE }),
    name: z.string().openapi({ description: "Product name", example: "Arabica beans 1kg" }),
    sku: z.string().nullable().openapi({ description: "Stock keeping unit", example: "COF-ARA-1K" }),
    unit: z.string().openapi({ description: "How the quantities are counted", example: "kg" }),
    stock_quantity: z.string().openapi({ description: "Stock now, 3 decimals", example: "1.500" }),
    low_stock_threshold: z.string().openapi({ description: "The product's low-stock threshold, 3 decimals", example: "5.000" }),
    shortfall: z.string().openapi({ description: "low_stock_threshold − stock_quantity, 3 decimals", example: "3.500" }),
  })
  .openapi("DashboardLowStockProduct");

export const LowStockList = pageSchema(LowStockProduct, "DashboardLowStockList", {
  data: "Products on sale (not archived) at or below their low-stock threshold, largest shortfall first (then by id)",
});

export type PeriodInput = z.infer<typeof PeriodQuery>;
export type SummaryView = z.infer<typeof Summary>;
export type TopCustomersInput = z.infer<typeof TopCustomersQuery>;
export type TopCustomersView = z.infer<typeof TopCustomers>;
export type SalesInput = z.infer<typeof SalesQuery>;
export type SalesView = z.infer<typeof Sales>;
export type LowStockInput = z.infer<typeof LowStockQuery>;
export type LowStockView = z.infer<typeof LowStockProduct>;
