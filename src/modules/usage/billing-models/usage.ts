/**
 * What a period's usage costs. `usageFor` sums what the agents in scope recorded in [from, to),
 * per event kind and type, in one aggregate over agent_events, plus the seat count;
 * `calculateCharges` prices it with a model version through computeCharges.
 */
import { and, eq, type SQL, sql } from "drizzle-orm";
import type { Database } from "../../../db/client";
import { agents, customerBillingPlans, customers } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { type FieldError, Unprocessable } from "../../../lib/errors";
import { assertCan, requireOrgId } from "../../identity/auth/principal";
import { inEdges, inWholeDays, splitByUtcDay } from "../rollups/days";
import { computeCharges, type UsageTotals } from "./engine";
import type { CalculateInput, CalculationView } from "./schemas";
import { loadModelTerms } from "./service";

export interface UsageScope {
  orgId: string;
  /** Only events of this customer's agents. */
  customerId?: string;
  /** Only this agent's events. */
  agentId?: string;
  /** [from, to) on occurred_at. */
  from: Date;
  to: Date;
  /** Costs and outcome values in other currencies are left out; events without one count as this. */
  currency: string;
  /** The seat count from a billing plan; without it, seats are the active agents in scope. */
  seatsManual?: number;
}

interface TotalsRow {
  kind: "activity" | "cost" | "outcome";
  type: string;
  thousandths: string;
  successes: string;
  outcome_value: string;
  cost: string;
}

/** drizzle's raw `execute` answers `{rows}` on both Neon drivers. */
async function rowsOf<T>(db: Database, query: SQL): Promise<T[]> {
  return ((await db.execute(query)) as unknown as { rows: T[] }).rows;
}

function agentScope(scope: UsageScope, agentColumn: SQL): SQL {
  const parts: SQL[] = [];
  if (scope.agentId !== undefined) parts.push(sql`${agentColumn} = ${scope.agentId}`);
  if (scope.customerId !== undefined) {
    parts.push(sql`${agentColumn} IN (SELECT a.id FROM agents a WHERE a.org_id = ${scope.orgId} AND a.customer_id = ${scope.customerId})`);
  }
  return parts.length === 0 ? sql`true` : sql.join(parts, sql` AND `);
}

/**
 * Sums the events in scope. Activities count whatever their currency; successful outcomes are
 * counted whatever theirs, but only values in the model's currency are summed, like costs. The
 * quantity sum is scaled to thousandths in SQL and read as text, so no float ever holds it.
 * Whole UTC days are read from agent_event_daily_totals (the same sums, kept per day by a trigger
 * on agent_events, late events included); only a partial day at either end of the period is
 * summed from the raw events. Both halves give the same per-row sums, added per kind and type.
 */
async function eventTotals(db: Database, scope: UsageScope): Promise<TotalsRow[]> {
  const split = splitByUtcDay(scope);
  const inCurrency = sql`(e.currency IS NULL OR upper(e.currency) = ${scope.currency})`;
  // The roll-up stores upper(currency), '' for none.
  const dayInCurrency = sql`(d.currency = '' OR d.currency = ${scope.currency})`;
  return rowsOf<TotalsRow>(
    db,
    sql`
    SELECT s.kind, s.type,
           (coalesce(sum(s.quantity) FILTER (WHERE s.kind = 'activity'), 0) * 1000)::numeric(40, 0)::text AS thousandths,
           coalesce(sum(s.successes) FILTER (WHERE s.kind = 'outcome'), 0)::text AS successes,
           coalesce(sum(s.value) FILTER (WHERE s.kind = 'outcome'), 0)::text AS outcome_value,
           coalesce(sum(s.cost) FILTER (WHERE s.kind = 'cost'), 0)::text AS cost
      FROM (
        SELECT d.kind, d.type, sum(d.quantity) AS quantity, sum(d.successes) AS successes,
               sum(d.value) FILTER (WHERE ${dayInCurrency}) AS value, sum(d.amount) FILTER (WHERE ${dayInCurrency}) AS cost
          FROM agent_event_daily_totals d
         WHERE d.org_id = ${scope.orgId}
           AND ${inWholeDays(sql`d.day`, split)}
           AND ${agentScope(scope, sql`d.agent_id`)}
         GROUP BY d.kind, d.type
        UNION ALL
        SELECT e.kind, e.type, sum(e.quantity) FILTER (WHERE e.kind = 'activity'),
               count(*) FILTER (WHERE e.kind = 'outcome' AND e.success),
               sum(e.value) FILTER (WHERE e.kind = 'outcome' AND e.success AND ${inCurrency}),
               sum(e.amount) FILTER (WHERE e.kind = 'cost' AND ${inCurrency})
          FROM agent_events e
         WHERE e.org_id = ${scope.orgId}
           AND ${inEdges(sql`e.occurred_at`, split)}
           AND ${agentScope(scope, sql`e.agent_id`)}
         GROUP BY e.kind, e.type
      ) s
     GROUP BY s.kind, s.type`,
  );
}

/** Agents in scope whose status is active (the team's definition of a seat: status now, not history). */
async function activeAgents(db: Database, scope: UsageScope): Promise<number> {
  const [row] = await rowsOf<{ count: string }>(
    db,
    sql`
    SELECT count(*)::text AS count
      FROM agents a
     WHERE a.org_id = ${scope.orgId}
       AND a.status = 'active'
       AND ${agentScope(scope, sql`a.id`)}`,
  );
  return Number(row?.count ?? 0);
}

/** The usage totals of `scope`, ready for computeCharges. */
export async function usageFor(db: Database, scope: UsageScope): Promise<UsageTotals> {
  const [rows, seats] = await Promise.all([
    eventTotals(db, scope),
    scope.seatsManual === undefined ? activeAgents(db, scope) : Promise.resolve(scope.seatsManual),
  ]);
  const usage: UsageTotals = { seats, activities: new Map(), outcomes: new Map(), costs: new Map() };
  for (const row of rows) {
    if (row.kind === "activity") usage.activities.set(row.type, BigInt(row.thousandths));
    else if (row.kind === "outcome") usage.outcomes.set(row.type, { count: Number(row.successes), value: Number(row.outcome_value) });
    else usage.costs.set(row.type, Number(row.cost));
  }
  return usage;
}

export interface CalculateChargesInput {
  modelId: string;
  /** The current version when omitted. */
  version?: number;
  /** [from, to) on the events' occurred_at, UTC. */
  from: Date;
  to: Date;
  customerId?: string;
  agentId?: string;
}

/**
 * What a billing model charges for a period's usage, without writing anything: the model
 * version's terms, the usage of the agents in scope (one agent, a customer's agents, or all of
 * the organisation's), and computeCharges. The invoices module calls this to price an invoice;
 * it checks no permission (the caller has), only that everything named is the organisation's.
 * Unknown agent, customer or version, and `to` not after `from`, are 422s naming the field.
 */
export async function calculateCharges(ctx: ServiceCtx, input: CalculateChargesInput): Promise<CalculationView> {
  const orgId = requireOrgId(ctx);
  const errors: FieldError[] = [];
  if (input.to.getTime() <= input.from.getTime()) errors.push({ path: "to", message: "`to` must be after `from`" });
  // Agents and customers are read here, not through their modules: this is a bare existence
  // check in the organisation, with no permission of theirs involved.
  const [loaded, agent, customer] = await Promise.all([
    loadModelTerms(ctx.db, orgId, input.modelId, input.version),
    input.agentId === undefined
      ? null
      : ctx.db
          .select({ customerId: agents.customerId })
          .from(agents)
          .where(and(eq(agents.id, input.agentId), eq(agents.orgId, orgId)))
          .then((rows) => rows[0] ?? null),
    input.customerId === undefined
      ? null
      : ctx.db
          .select({ id: customers.id })
          .from(customers)
          .where(and(eq(customers.id, input.customerId), eq(customers.orgId, orgId)))
          .then((rows) => rows[0] ?? null),
  ]);
  if (!loaded) errors.push({ path: "version", message: `Billing model ${input.modelId} has no version ${input.version}` });
  if (input.agentId !== undefined && !agent) errors.push({ path: "agent_id", message: `No agent ${input.agentId} in this organisation` });
  if (input.customerId !== undefined && !customer) errors.push({ path: "customer_id", message: `No customer ${input.customerId} in this organisation` });
  if (agent && customer && agent.customerId !== input.customerId) {
    errors.push({ path: "agent_id", message: `Agent ${input.agentId} does not work for customer ${input.customerId}` });
  }
  if (errors.length > 0 || !loaded) throw new Unprocessable(errors);

  const { terms, version } = loaded;
  const manualSeats = terms.components.some((c) => c.type === "seat" && c.seats === "manual");
  const billedCustomer = input.customerId ?? agent?.customerId ?? null;
  const usage = await usageFor(ctx.db, {
    orgId,
    agentId: input.agentId,
    customerId: input.customerId,
    from: input.from,
    to: input.to,
    currency: terms.currency,
    seatsManual: manualSeats ? await planSeats(ctx, orgId, billedCustomer) : undefined,
  });
  const charges = computeCharges(terms, usage);
  return {
    model_id: input.modelId,
    version,
    currency: terms.currency,
    from: input.from.toISOString(),
    to: input.to.toISOString(),
    ...charges,
  };
}

/** The manual seat count on the customer's billing plan; none without a customer or a count. */
async function planSeats(ctx: ServiceCtx, orgId: string, customerId: string | null): Promise<number> {
  if (customerId === null) return 0;
  const [plan] = await ctx.db
    .select({ seats: customerBillingPlans.seats })
    .from(customerBillingPlans)
    .where(and(eq(customerBillingPlans.orgId, orgId), eq(customerBillingPlans.customerId, customerId)));
  return plan?.seats ?? 0;
}

/** `POST /v1/billing-models/{id}/calculate`: a preview for someone who may read billing models. */
export async function calculateForModel(ctx: ServiceCtx, modelId: string, input: CalculateInput): Promise<CalculationView> {
  assertCan(ctx, "billing_models:read");
  return calculateCharges(ctx, {
    modelId,
    version: input.version,
    from: input.from,
    to: input.to,
    agentId: input.agent_id,
    customerId: input.customer_id,
  });
}
