/**
 * The reports' figures summed straight from the raw rows, with no roll-up: what the dashboard
 * summary and `calculate` answered before the daily roll-ups, kept as the reference both the
 * roll-up tests (tests/rollups.test.ts) and the bench's "before" figures (scripts/bench.ts) use.
 * Plain drizzle `sql`, so it runs from workerd and, rendered by PgDialect, from Node.
 */
import { type SQL, sql } from "drizzle-orm";

/**
 * One row of text columns: revenue, bill_count, average_bill, collected, outstanding and
 * new_customers of [from, to), by the definitions in src/modules/retail/dashboard/schemas.ts.
 */
export function rawSummarySql(orgId: string, from: string, to: string): SQL {
  const inPeriod = (column: SQL) => sql`${column} >= ${from}::timestamptz AND ${column} < ${to}::timestamptz`;
  return sql`
    WITH b AS (
      SELECT coalesce(sum(total - amount_refunded), 0) AS revenue, count(*) AS bill_count
        FROM bills WHERE org_id = ${orgId} AND status NOT IN ('draft', 'void') AND ${inPeriod(sql`issued_at`)}
    )
    SELECT b.revenue::text, b.bill_count::text,
           (CASE WHEN b.bill_count = 0 THEN 0 ELSE round(b.revenue::numeric / b.bill_count) END)::text AS average_bill,
           ((SELECT coalesce(sum(amount), 0) FROM bill_payments WHERE org_id = ${orgId} AND method <> 'credit' AND ${inPeriod(sql`created_at`)})
            + (SELECT coalesce(sum(amount - allocated), 0) FROM customer_payments WHERE org_id = ${orgId} AND ${inPeriod(sql`created_at`)})
            - (SELECT coalesce(sum(amount), 0) FROM bill_refunds WHERE org_id = ${orgId} AND ${inPeriod(sql`created_at`)}))::text AS collected,
           (SELECT coalesce(sum(total - amount_paid), 0) FROM bills WHERE org_id = ${orgId} AND status IN ('issued', 'partially_paid'))::text AS outstanding,
           (SELECT count(*) FROM customers WHERE org_id = ${orgId} AND ${inPeriod(sql`created_at`)})::text AS new_customers
      FROM b`;
}

/**
 * Per kind and type, what `calculate` prices for one agent's (or, without one, the organisation's)
 * events in [from, to) and a model in `currency`: activity thousandths, successful outcomes,
 * their value and costs, as text.
 */
export function rawEventTotalsSql(orgId: string, from: string, to: string, currency: string, agentId?: string): SQL {
  const inCurrency = sql`(currency IS NULL OR upper(currency) = ${currency})`;
  return sql`
    SELECT kind, type,
           (coalesce(sum(quantity) FILTER (WHERE kind = 'activity'), 0) * 1000)::numeric(40, 0)::text AS thousandths,
           count(*) FILTER (WHERE kind = 'outcome' AND success)::text AS successes,
           coalesce(sum(value) FILTER (WHERE kind = 'outcome' AND success AND ${inCurrency}), 0)::text AS outcome_value,
           coalesce(sum(amount) FILTER (WHERE kind = 'cost' AND ${inCurrency}), 0)::text AS cost
      FROM agent_events
     WHERE org_id = ${orgId} AND occurred_at >= ${from}::timestamptz AND occurred_at < ${to}::timestamptz
       AND (${agentId ?? null}::text IS NULL OR agent_id = ${agentId ?? null})
     GROUP BY kind, type`;
}
