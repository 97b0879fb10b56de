import { type SQL, sql } from "drizzle-orm";
import type { Database } from "../../../db/client";
import type { ServiceCtx } from "../../../lib/context";
import { assertCan, requireOrgId } from "../../identity/auth/principal";
import { resolvePeriod } from "../../retail/dashboard/service";
import { assertAgentInOrg } from "../agents/service";
import type {
  ActivityBreakdownInput,
  ActivityBreakdownView,
  AgentStatsView,
  AnalyticsSummaryView,
  BreakdownGroup,
  PeriodInput,
  TopAgentsInput,
  TopAgentsView,
} from "./schemas";

interface Period {
  from: Date;
  to: Date;
}

/** drizzle's raw `execute` answers `{rows}` on both Neon drivers; every value is selected as text. */
async function rowsOf<T>(db: Database, query: SQL): Promise<T[]> {
  return ((await db.execute(query)) as unknown as { rows: T[] }).rows;
}

/** Events of the organisation that occurred in the period; `e` is the agent_events alias. */
function eventsIn(orgId: string, period: Period): SQL {
  return sql`e.org_id = ${orgId}
    AND e.occurred_at >= ${period.from.toISOString()}::timestamptz
    AND e.occurred_at < ${period.to.toISOString()}::timestamptz`;
}

const isoText = (column: SQL) => sql`to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/** Counts of one aggregate pass over `e`, as text columns. */
const eventCounts = sql`count(*)::text AS events,
  count(*) FILTER (WHERE e.kind = 'activity')::text AS activities,
  count(*) FILTER (WHERE e.kind = 'cost')::text AS costs,
  count(*) FILTER (WHERE e.kind = 'outcome')::text AS outcomes,
  count(*) FILTER (WHERE e.kind = 'outcome' AND e.success)::text AS successful_outcomes`;

interface CountsText {
  events: string;
  activities: string;
  costs: string;
  outcomes: string;
  successful_outcomes: string;
}

function successRate(successful: number, outcomes: number): number | null {
  return outcomes === 0 ? null : Math.round((successful / outcomes) * 10_000) / 10_000;
}

function outcomeFigures(counts: Pick<CountsText, "outcomes" | "successful_outcomes">) {
  const outcomes = Number(counts.outcomes);
  const successful = Number(counts.successful_outcomes);
  return { outcomes, successful_outcomes: successful, success_rate: successRate(successful, outcomes) };
}

function periodView(period: Period) {
  return { from: period.from.toISOString(), to: period.to.toISOString() };
}

/** What an agent did in a period: event counts, units per activity type, costs per currency, first and last event. */
export async function getAgentStats(ctx: ServiceCtx, agentId: string, input: PeriodInput): Promise<AgentStatsView> {
  assertCan(ctx, "agents:read");
  const orgId = requireOrgId(ctx);
  const period = resolvePeriod(ctx.now(), input);
  await assertAgentInOrg(ctx, agentId);
  // One statement over the (org, agent, occurred_at) index; the CTE is read three times, so
  // Postgres materialises it once.
  const [row] = await rowsOf<CountsText & { units: string; cost_totals: string; first_event_at: string | null; last_event_at: string | null }>(
    ctx.db,
    sql`
    WITH ev AS (
      SELECT e.kind, e.type, e.quantity, e.amount, e.currency, e.success, e.occurred_at
        FROM agent_events e WHERE ${eventsIn(orgId, period)} AND e.agent_id = ${agentId}
    )
    SELECT t.*,
           (SELECT coalesce(json_agg(json_build_object('type', u.type, 'units', u.units::text, 'events', u.events) ORDER BY u.type), '[]')::text
              FROM (SELECT e.type, sum(e.quantity) AS units, count(*) AS events FROM ev e WHERE e.kind = 'activity' GROUP BY e.type) u) AS units,
           (SELECT coalesce(json_agg(json_build_object('currency', c.currency, 'amount', c.amount::text, 'events', c.events) ORDER BY c.currency), '[]')::text
              FROM (SELECT e.currency, sum(e.amount) AS amount, count(*) AS events FROM ev e WHERE e.kind = 'cost' GROUP BY e.currency) c) AS cost_totals
      FROM (SELECT ${eventCounts}, ${isoText(sql`min(e.occurred_at)`)} AS first_event_at, ${isoText(sql`max(e.occurred_at)`)} AS last_event_at
              FROM ev e) t`,
  );
  if (!row) throw new Error("the agent stats query returned no row");
  const units = JSON.parse(row.units) as { type: string; units: string; events: number }[];
  const costs = JSON.parse(row.cost_totals) as { currency: string; amount: string; events: number }[];
  return {
    agent_id: agentId,
    ...periodView(period),
    activities: Number(row.activities),
    costs: Number(row.costs),
    ...outcomeFigures(row),
    activity_units: units,
    cost_totals: costs.map((c) => ({ currency: c.currency, amount: Number(c.amount), events: c.events })),
    first_event_at: row.first_event_at,
    last_event_at: row.last_event_at,
  };
}

type CurrencyTotals = { currency: string; amount: string }[];

function inCurrency(totals: CurrencyTotals, currency: string): number {
  return Number(totals.find((t) => t.currency === currency)?.amount ?? 0);
}

/**
 * Revenue (open and paid invoices issued in the period), recorded cost, margin and event counts
 * (rules in schemas.ts), in one statement. Invoices are read directly: they are this report's
 * input, and the invoices module answers about one invoice, not sums over many.
 */
export async function getAnalyticsSummary(ctx: ServiceCtx, input: PeriodInput): Promise<AnalyticsSummaryView> {
  assertCan(ctx, "analytics:read");
  const orgId = requireOrgId(ctx);
  const period = resolvePeriod(ctx.now(), input);
  const [row] = await rowsOf<CountsText & { currency: string; revenue: string; cost: string }>(
    ctx.db,
    sql`
    SELECT o.currency,
           (SELECT coalesce(json_agg(json_build_object('currency', r.currency, 'amount', r.amount::text) ORDER BY r.currency), '[]')::text
              FROM (SELECT i.currency, sum(i.total) AS amount FROM invoices i
                     WHERE i.org_id = ${orgId} AND i.status IN ('open', 'paid')
                       AND i.issued_at >= ${period.from.toISOString()}::timestamptz AND i.issued_at < ${period.to.toISOString()}::timestamptz
                     GROUP BY i.currency) r) AS revenue,
           (SELECT coalesce(json_agg(json_build_object('currency', c.currency, 'amount', c.amount::text) ORDER BY c.currency), '[]')::text
              FROM (SELECT e.currency, sum(e.amount) AS amount FROM agent_events e
                     WHERE ${eventsIn(orgId, period)} AND e.kind = 'cost' GROUP BY e.currency) c) AS cost,
           counts.*
      FROM organizations o, (SELECT ${eventCounts} FROM agent_events e WHERE ${eventsIn(orgId, period)}) counts
     WHERE o.id = ${orgId}`,
  );
  if (!row) throw new Error("the analytics summary query returned no row");
  const revenueByCurrency = JSON.parse(row.revenue) as CurrencyTotals;
  const costByCurrency = JSON.parse(row.cost) as CurrencyTotals;
  const revenue = inCurrency(revenueByCurrency, row.currency);
  const cost = inCurrency(costByCurrency, row.currency);
  return {
    ...periodView(period),
    currency: row.currency,
    revenue,
    cost,
    margin: revenue - cost,
    revenue_by_currency: revenueByCurrency.map((r) => ({ currency: r.currency, amount: Number(r.amount) })),
    cost_by_currency: costByCurrency.map((c) => ({ currency: c.currency, amount: Number(c.amount) })),
    events: Number(row.events),
    activities: Number(row.activities),
    costs: Number(row.costs),
    ...outcomeFigures(row),
  };
}

/** ORDER BY per metric; fixed SQL, never user text. */
const TOP_AGENT_ORDER: Record<TopAgentsInput["metric"], string> = {
  revenue: "s.revenue DESC",
  activities: "s.activities DESC",
  outcomes: "s.successful_outcomes DESC",
};

/** Agents ranked by revenue (Σ value of successful outcomes), activity events or successful outcomes in a period. */
export async function getTopAgents(ctx: ServiceCtx, input: TopAgentsInput): Promise<TopAgentsView> {
  assertCan(ctx, "analytics:read");
  const orgId = requireOrgId(ctx);
  const period = resolvePeriod(ctx.now(), input);
  const [org] = await rowsOf<{ currency: string }>(ctx.db, sql`SELECT currency FROM organizations WHERE id = ${orgId}`);
  const currency = org?.currency ?? "";
  const rows = await rowsOf<{
    agent_id: string;
    name: string;
    status: "active" | "paused" | "archived";
    revenue: string;
    activities: string;
    activity_units: string;
    outcomes: string;
    successful_outcomes: string;
  }>(
    ctx.db,
    sql`
    SELECT a.id AS agent_id, a.name, a.status, s.revenue::text AS revenue, s.activities::text AS activities,
           s.activity_units::text AS activity_units, s.outcomes::text AS outcomes, s.successful_outcomes::text AS successful_outcomes
      FROM (SELECT e.agent_id,
                   coalesce(sum(e.value) FILTER (WHERE e.kind = 'outcome' AND e.success AND (e.currency IS NULL OR e.currency = ${currency})), 0) AS revenue,
                   count(*) FILTER (WHERE e.kind = 'activity') AS activities,
                   coalesce(sum(e.quantity) FILTER (WHERE e.kind = 'activity'), 0)::numeric(20, 3) AS activity_units,
                   count(*) FILTER (WHERE e.kind = 'outcome') AS outcomes,
                   count(*) FILTER (WHERE e.kind = 'outcome' AND e.success) AS successful_outcomes
              FROM agent_events e WHERE ${eventsIn(orgId, period)}
             GROUP BY e.agent_id) s
      JOIN agents a ON a.id = s.agent_id AND a.org_id = ${orgId}
     ORDER BY ${sql.raw(TOP_AGENT_ORDER[input.metric])}, a.id
     LIMIT ${input.limit}`,
  );
  return {
    ...periodView(period),
    metric: input.metric,
    currency,
    data: rows.map((r) => ({
      agent_id: r.agent_id,
      name: r.name,
      status: r.status,
      revenue: Number(r.revenue),
      activities: Number(r.activities),
      activity_units: r.activity_units,
      ...outcomeFigures(r),
    })),
  };
}

function breakdownQuery(orgId: string, period: Period, group: BreakdownGroup, limit: number): SQL {
  const activities = sql`${eventsIn(orgId, period)} AND e.kind = 'activity'`;
  if (group === "day") {
    return sql`
      WITH days AS (
        SELECT generate_series(
                 date_trunc('day', ${period.from.toISOString()}::timestamptz AT TIME ZONE 'UTC'),
                 ${period.to.toISOString()}::timestamptz AT TIME ZONE 'UTC' - interval '1 microsecond',
                 interval '1 day') AS start
      ), totals AS (
        SELECT date_trunc('day', e.occurred_at AT TIME ZONE 'UTC') AS start, count(*) AS events, sum(e.quantity) AS units
          FROM agent_events e WHERE ${activities}
         GROUP BY 1
      )
      SELECT to_char(d.start, 'YYYY-MM-DD') AS key, to_char(d.start, 'YYYY-MM-DD') AS label,
             coalesce(t.events, 0)::text AS events, coalesce(t.units, 0)::numeric(20, 3)::text AS units
        FROM days d LEFT JOIN totals t ON t.start = d.start
       ORDER BY d.start`;
  }
  if (group === "agent") {
    return sql`
      SELECT s.agent_id AS key, a.name AS label, s.events::text AS events, s.units::text AS units
        FROM (SELECT e.agent_id, count(*) AS events, sum(e.quantity) AS units FROM agent_events e WHERE ${activities}
               GROUP BY e.agent_id ORDER BY units DESC, e.agent_id LIMIT ${limit}) s
        JOIN agents a ON a.id = s.agent_id AND a.org_id = ${orgId}
       ORDER BY s.units DESC, s.agent_id`;
  }
  return sql`
    SELECT e.type AS key, e.type AS label, count(*)::text AS events, sum(e.quantity)::text AS units
      FROM agent_events e WHERE ${activities}
     GROUP BY e.type
     ORDER BY sum(e.quantity) DESC, e.type
     LIMIT ${limit}`;
}

/** Activity events of a period grouped by type, agent or UTC day (rules in schemas.ts). */
export async function getActivityBreakdown(ctx: ServiceCtx, input: ActivityBreakdownInput): Promise<ActivityBreakdownView> {
  assertCan(ctx, "analytics:read");
  const orgId = requireOrgId(ctx);
  const period = resolvePeriod(ctx.now(), input);
  const rows = await rowsOf<{ key: string; label: string; events: string; units: string }>(ctx.db, breakdownQuery(orgId, period, input.group_by, input.limit));
  return {
    ...periodView(period),
    group_by: input.group_by,
    data: rows.map((r) => ({ key: r.key, label: r.label, events: Number(r.events), units: r.units })),
  };
}
