import { and, asc, desc, eq, gt, ilike, isNotNull, isNull, lt, lte, or, type SQL, sql } from "drizzle-orm";
import type { Database } from "../../../db/client";
import { products } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { Unprocessable } from "../../../lib/errors";
import { type Page, toPage } from "../../../lib/pagination";
import { quantityText } from "../../../lib/quantity";
import { assertCan, requireOrgId } from "../../identity/auth/principal";
import { inEdges, inWholeDays, splitByUtcDay } from "../../usage/rollups/days";
import type { LowStockInput, LowStockView, PeriodInput, SalesGroup, SalesInput, SalesView, SummaryView, TopCustomersInput, TopCustomersView } from "./schemas";

const DAY_MS = 86_400_000;
const DEFAULT_DAYS = 30;
const MAX_YEARS = 5;

interface Period {
  from: Date;
  to: Date;
}

/**
 * The period a query asks for (see PERIOD_RULE in schemas.ts). The default ends at the coming UTC
 * midnight rather than at this millisecond: nothing is issued in the future, so the figures are
 * the same, and the same question gets the same answer all day long.
 */
export function resolvePeriod(now: Date, input: PeriodInput): Period {
  const tomorrow = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
  const to = input.to ?? (input.from ? new Date(input.from.getTime() + DEFAULT_DAYS * DAY_MS) : new Date(tomorrow));
  const from = input.from ?? new Date(to.getTime() - DEFAULT_DAYS * DAY_MS);
  if (to.getTime() <= from.getTime()) throw new Unprocessable([{ path: "to", message: "`to` must be after `from`" }]);
  const longest = new Date(from);
  longest.setUTCFullYear(longest.getUTCFullYear() + MAX_YEARS);
  if (to.getTime() > longest.getTime()) throw new Unprocessable([{ path: "to", message: `A period is at most ${MAX_YEARS} years long` }]);
  return { from, to };
}

/** drizzle's raw `execute` answers `{rows}` on both Neon drivers; every value is selected as text. */
async function rowsOf<T>(db: Database, query: SQL): Promise<T[]> {
  return ((await db.execute(query)) as unknown as { rows: T[] }).rows;
}

/** Bills counted in a period's revenue; `b` is the bills alias of the query it is spliced into. */
function countedBills(orgId: string, period: Period): SQL {
  return sql`b.org_id = ${orgId}
    AND b.issued_at >= ${period.from.toISOString()}::timestamptz
    AND b.issued_at < ${period.to.toISOString()}::timestamptz
    AND b.status NOT IN ('draft', 'void')`;
}

const currencyOf = (orgId: string) => sql`(SELECT o.currency FROM organizations o WHERE o.id = ${orgId})`;

/**
 * Revenue, money collected, what is outstanding now, bill count, average bill and new customers
 * (definitions in schemas.ts), in one statement, so the answer is one consistent snapshot in one
 * round trip. Whole UTC days come from retail_daily_totals (kept by triggers in the writing
 * transactions); only the partial days at a period's ends are summed from the raw rows, each on
 * its own org-scoped time index. Outstanding is every open bill's, summed over the roll-up's days.
 */
export async function getSummary(ctx: ServiceCtx, input: PeriodInput): Promise<SummaryView> {
  assertCan(ctx, "dashboard:read");
  const orgId = requireOrgId(ctx);
  const period = resolvePeriod(ctx.now(), input);
  const split = splitByUtcDay(period);
  const [row] = await rowsOf<{
    currency: string;
    revenue: string;
    bill_count: string;
    average_bill: string;
    bill_payments: string;
    unallocated: string;
    refunds: string;
    outstanding: string;
    new_customers: string;
  }>(
    ctx.db,
    sql`
    WITH days AS (
      SELECT coalesce(sum(d.revenue), 0) AS revenue, coalesce(sum(d.bill_count), 0) AS bill_count,
             coalesce(sum(d.bill_payments), 0) AS bill_payments, coalesce(sum(d.unallocated), 0) AS unallocated,
             coalesce(sum(d.refunds), 0) AS refunds, coalesce(sum(d.new_customers), 0) AS new_customers
        FROM retail_daily_totals d WHERE d.org_id = ${orgId} AND ${inWholeDays(sql`d.day`, split)}
    ), edge_bills AS (
      SELECT coalesce(sum(b.total - b.amount_refunded), 0) AS revenue, count(*) AS bill_count
        FROM bills b
       WHERE b.org_id = ${orgId} AND b.status NOT IN ('draft', 'void') AND ${inEdges(sql`b.issued_at`, split)}
    ), period_bills AS (
      SELECT days.revenue + eb.revenue AS revenue, days.bill_count + eb.bill_count AS bill_count FROM days, edge_bills eb
    )
    SELECT ${currencyOf(orgId)} AS currency,
           pb.revenue::text AS revenue,
           pb.bill_count::text AS bill_count,
           -- numeric round() takes halves away from zero; revenue is never negative, so that is half up.
           (CASE WHEN pb.bill_count = 0 THEN 0 ELSE round(pb.revenue::numeric / pb.bill_count) END)::text AS average_bill,
           (days.bill_payments + (SELECT coalesce(sum(p.amount), 0) FROM bill_payments p
             WHERE p.org_id = ${orgId} AND p.method <> 'credit' AND ${inEdges(sql`p.created_at`, split)}))::text AS bill_payments,
           (days.unallocated + (SELECT coalesce(sum(cp.amount - cp.allocated), 0) FROM customer_payments cp
             WHERE cp.org_id = ${orgId} AND ${inEdges(sql`cp.created_at`, split)}))::text AS unallocated,
           (days.refunds + (SELECT coalesce(sum(r.amount), 0) FROM bill_refunds r
             WHERE r.org_id = ${orgId} AND ${inEdges(sql`r.created_at`, split)}))::text AS refunds,
           (SELECT coalesce(sum(d.outstanding), 0) FROM retail_daily_totals d WHERE d.org_id = ${orgId})::text AS outstanding,
           (days.new_customers + (SELECT count(*) FROM customers c
             WHERE c.org_id = ${orgId} AND ${inEdges(sql`c.created_at`, split)}))::text AS new_customers
      FROM period_bills pb, days`,
  );
  if (!row) throw new Error("the summary query returned no row");
  return {
    from: period.from.toISOString(),
    to: period.to.toISOString(),
    currency: row.currency,
    revenue: Number(row.revenue),
    collected: Number(row.bill_payments) + Number(row.unallocated) - Number(row.refunds),
    outstanding: Number(row.outstanding),
    bill_count: Number(row.bill_count),
    average_bill: Number(row.average_bill),
    new_customers: Number(row.new_customers),
  };
}

/** Customers by revenue in the period (walk-in bills have nobody to rank), each with their balance now. */
export async function getTopCustomers(ctx: ServiceCtx, input: TopCustomersInput): Promise<TopCustomersView> {
  assertCan(ctx, "dashboard:read");
  const orgId = requireOrgId(ctx);
  const period = resolvePeriod(ctx.now(), input);
  // The organisation row drives the query, so an empty period still answers with its currency.
  const rows = await rowsOf<{ currency: string; customer_id: string | null; name: string; revenue: string; bill_count: string; balance: string }>(
    ctx.db,
    sql`
    SELECT o.currency, top.*
      FROM organizations o
      LEFT JOIN LATERAL (
        SELECT r.customer_id, c.name, r.revenue::text AS revenue, r.bill_count::text AS bill_count,
               (SELECT coalesce(sum(l.amount), 0) FROM customer_ledger l
                 WHERE l.org_id = ${orgId} AND l.customer_id = r.customer_id)::text AS balance
          FROM (SELECT b.customer_id, sum(b.total - b.amount_refunded) AS revenue, count(*) AS bill_count
                  FROM bills b
                 WHERE ${countedBills(orgId, period)} AND b.customer_id IS NOT NULL
                 GROUP BY b.customer_id
                 ORDER BY revenue DESC, b.customer_id
                 LIMIT ${input.limit}) r
          JOIN customers c ON c.id = r.customer_id AND c.org_id = ${orgId}
      ) top ON true
     WHERE o.id = ${orgId}
     ORDER BY top.revenue::numeric DESC, top.customer_id`,
  );
  return {
    from: period.from.toISOString(),
    to: period.to.toISOString(),
    currency: rows[0]?.currency ?? "",
    data: rows.flatMap((r) =>
      r.customer_id === null
        ? []
        : [
            {
              customer_id: r.customer_id,
              name: r.name,
              revenue: Number(r.revenue),
              bill_count: Number(r.bill_count),
              balance: Number(r.balance),
            },
          ],
    ),
  };
}

type TimeGroup = Extract<SalesGroup, "day" | "week" | "month">;

/** date_trunc field, series step and label format per time grouping (never user text in the SQL). */
const TIME_BUCKETS: Record<TimeGroup, { field: string; step: string; label: string }> = {
  day: { field: "day", step: "1 day", label: "YYYY-MM-DD" },
  week: { field: "week", step: "1 week", label: 'IYYY-"W"IW' },
  month: { field: "month", step: "1 month", label: "YYYY-MM" },
};

interface SalesRowText {
  /** Null on the one row of a product or category query that found no sales. */
  key: string | null;
  label: string;
  revenue: string;
  bill_count: string;
  quantity: string | null;
  currency: string;
}

function salesByTime(orgId: string, period: Period, group: TimeGroup): SQL {
  const bucket = TIME_BUCKETS[group];
  const field = sql.raw(`'${bucket.field}'`);
  return sql`
    WITH buckets AS (
      SELECT generate_series(
               date_trunc(${field}, ${period.from.toISOString()}::timestamptz AT TIME ZONE 'UTC'),
               ${period.to.toISOString()}::timestamptz AT TIME ZONE 'UTC' - interval '1 microsecond',
               interval ${sql.raw(`'${bucket.step}'`)}) AS start
    ), totals AS (
      SELECT date_trunc(${field}, b.issued_at AT TIME ZONE 'UTC') AS start,
             sum(b.total - b.amount_refunded) AS revenue, count(*) AS bill_count
        FROM bills b WHERE ${countedBills(orgId, period)}
       GROUP BY 1
    )
    SELECT to_char(k.start, 'YYYY-MM-DD') AS key, to_char(k.start, ${sql.raw(`'${bucket.label}'`)}) AS label,
           coalesce(t.revenue, 0)::text AS revenue, coalesce(t.bill_count, 0)::text AS bill_count, NULL AS quantity,
           ${currencyOf(orgId)} AS currency
      FROM buckets k LEFT JOIN totals t ON t.start = k.start
     ORDER BY k.start`;
}

function salesByLine(orgId: string, period: Period, group: "product" | "category", limit: number): SQL {
  const key =
    group === "product"
      ? sql`coalesce(i.product_id, 'other')`
      : sql`CASE WHEN i.product_id IS NULL THEN 'other' ELSE coalesce(p.category_id, 'uncategorised') END`;
  const label =
    group === "product"
      ? sql`coalesce(max(p.name), 'Other (lines without a product)')`
      : sql`CASE WHEN max(i.product_id) IS NULL THEN 'Other (lines without a product)' ELSE coalesce(max(pc.name), 'Uncategorised') END`;
  // The organisation row drives the query, so an empty period still answers with its currency.
  return sql`
    SELECT o.currency, s.*
      FROM organizations o
      LEFT JOIN LATERAL (
        SELECT ${key} AS key, ${label} AS label, sum(i.line_total) AS total,
               sum(i.line_total)::text AS revenue, count(DISTINCT i.bill_id)::text AS bill_count, sum(i.quantity)::text AS quantity
          FROM bills b
          JOIN bill_items i ON i.bill_id = b.id
          LEFT JOIN products p ON p.id = i.product_id
          LEFT JOIN product_categories pc ON pc.id = p.category_id
         WHERE ${countedBills(orgId, period)}
         GROUP BY 1
         ORDER BY sum(i.line_total) DESC, 1
         LIMIT ${limit}
      ) s ON true
     WHERE o.id = ${orgId}
     ORDER BY s.total DESC, s.key`;
}

/** Sales of the period by time bucket, product or category (rules in SALES_RULE, schemas.ts). */
export async function getSales(ctx: ServiceCtx, input: SalesInput): Promise<SalesView> {
  assertCan(ctx, "dashboard:read");
  const orgId = requireOrgId(ctx);
  const period = resolvePeriod(ctx.now(), input);
  const group = input.group_by;
  const query = group === "product" || group === "category" ? salesByLine(orgId, period, group, input.limit) : salesByTime(orgId, period, group);
  const rows = await rowsOf<SalesRowText>(ctx.db, query);
  return {
    from: period.from.toISOString(),
    to: period.to.toISOString(),
    currency: rows[0]?.currency ?? "",
    group_by: group,
    data: rows.flatMap((r) =>
      r.key === null
        ? []
        : [
            {
              key: r.key,
              label: r.label,
              revenue: Number(r.revenue),
              bill_count: Number(r.bill_count),
              quantity: r.quantity === null ? null : quantityText(r.quantity),
            },
          ],
    ),
  };
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** Products on sale at or below their low-stock threshold, largest shortfall first. */
export async function listLowStock(ctx: ServiceCtx, query: LowStockInput): Promise<Page<LowStockView>> {
  assertCan(ctx, "dashboard:read");
  const orgId = requireOrgId(ctx);
  const shortfall = sql<string>`(${products.lowStockThreshold} - ${products.stockQuantity})`;
  const filters: (SQL | undefined)[] = [
    eq(products.orgId, orgId),
    isNull(products.archivedAt),
    isNotNull(products.lowStockThreshold),
    lte(products.stockQuantity, products.lowStockThreshold),
  ];
  if (query.cursor) {
    const split = query.cursor.indexOf(":");
    const after = query.cursor.slice(0, split);
    const id = query.cursor.slice(split + 1);
    filters.push(or(lt(shortfall, sql`${after}::numeric`), and(eq(shortfall, sql`${after}::numeric`), gt(products.id, id))));
  }
  if (query.q) {
    const pattern = `%${escapeLike(query.q)}%`;
    filters.push(or(ilike(products.name, pattern), ilike(products.sku, pattern), ilike(products.barcode, pattern)));
  }
  const rows = await ctx.db
    .select({
      id: products.id,
      name: products.name,
      sku: products.sku,
      unit: products.unit,
      stock: products.stockQuantity,
      threshold: products.lowStockThreshold,
      shortfall: sql<string>`${shortfall}::text`,
    })
    .from(products)
    .where(and(...filters))
    .orderBy(desc(shortfall), asc(products.id))
    .limit(query.limit + 1);
  return toPage(
    rows,
    query.limit,
    (r) => `${quantityText(r.shortfall)}:${r.id}`,
    (r) => ({
      id: r.id,
      name: r.name,
      sku: r.sku,
      unit: r.unit,
      stock_quantity: quantityText(r.stock),
      low_stock_threshold: quantityText(r.threshold ?? "0"),
      shortfall: quantityText(r.shortfall),
    }),
  );
}
