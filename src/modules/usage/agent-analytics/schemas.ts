import { z } from "@hono/zod-openapi";
import { AGENT_STATUSES } from "../../../db/schema/monetisation";
import { PERIOD_RULE, PeriodQuery } from "../../retail/dashboard/schemas";
import { AGENT_ID_EXAMPLE } from "../agents/schemas";

export { PERIOD_RULE, PeriodQuery };

export const EVENT_PERIOD_RULE = "Events count by `occurred_at` in the period.";

export const SUCCESS_RATE_RULE = "success_rate = successful outcomes ÷ outcomes, rounded to 4 decimals; null without outcomes.";

export const REVENUE_RULE =
  "revenue = Σ total of the organisation's invoices whose status is open or paid and whose issued_at is in the period " +
  "(drafts and void invoices do not count), in the organisation's currency; invoices in other currencies are listed in `revenue_by_currency`. " +
  "cost = Σ amount of the cost events in the period in the organisation's currency; other currencies are listed in `cost_by_currency`. " +
  "margin = revenue − cost, both in the organisation's currency.";

export const AGENT_REVENUE_RULE =
  "Invoices are issued per customer, not per agent, so an agent's revenue is Σ value of its successful outcomes in the period whose currency " +
  "is the organisation's (or not given). metric=revenue ranks by it, activities by the number of activity events, outcomes by successful outcomes; " +
  "ties go to the lower agent id. Only agents with events in the period are ranked.";

export const BREAKDOWN_RULE =
  "Activity events only. type and agent: one row per activity type or agent with events, most units first (then by key), at most `limit` rows. " +
  "day: one row per UTC day of the period in time order, days without activity included with zeros. units adds up `quantity` as it is, " +
  "whatever the activity type counts.";

const Money = (description: string, example: number) =>
  z
    .number()
    .int()
    .openapi({ description: `${description}, in minor units`, example });

const periodFields = {
  from: z.string().openapi({ description: "Start of the period (included), UTC", example: "2026-04-01T00:00:00.000Z" }),
  to: z.string().openapi({ description: "End of the period (excluded), UTC", example: "2026-05-01T00:00:00.000Z" }),
};

const CurrencyAmount = z
  .object({
    currency: z.string().openapi({ description: "ISO 4217 currency", example: "EUR" }),
    amount: Money("Total in this currency", 12000),
  })
  .openapi("CurrencyAmount");

const outcomeFields = {
  outcomes: z.number().int().openapi({ description: "Outcome events", example: 40 }),
  successful_outcomes: z.number().int().openapi({ description: "Outcome events with success true", example: 30 }),
  success_rate: z.number().nullable().openapi({ description: "successful_outcomes ÷ outcomes, 4 decimals; null without outcomes", example: 0.75 }),
};

export const AgentStats = z
  .object({
    agent_id: z.string().openapi({ description: "The agent", example: AGENT_ID_EXAMPLE }),
    ...periodFields,
    activities: z.number().int().openapi({ description: "Activity events", example: 1200 }),
    costs: z.number().int().openapi({ description: "Cost events", example: 300 }),
    ...outcomeFields,
    activity_units: z
      .array(
        z
          .object({
            type: z.string().openapi({ description: "Activity type", example: "email_sent" }),
            units: z.string().openapi({ description: "Σ quantity, 3 decimals", example: "1250.500" }),
            events: z.number().int().openapi({ description: "Activity events of this type", example: 1100 }),
          })
          .openapi("AgentActivityUnits"),
      )
      .openapi({ description: "Units per activity type, by type", example: [{ type: "email_sent", units: "1250.500", events: 1100 }] }),
    cost_totals: z
      .array(
        z
          .object({
            currency: z.string().openapi({ description: "ISO 4217 currency", example: "USD" }),
            amount: Money("Σ amount of the cost events in this currency", 4200),
            events: z.number().int().openapi({ description: "Cost events in this currency", example: 300 }),
          })
          .openapi("AgentCostTotal"),
      )
      .openapi({ description: "Cost totals per currency, by currency", example: [{ currency: "USD", amount: 4200, events: 300 }] }),
    first_event_at: z
      .string()
      .nullable()
      .openapi({ description: "occurred_at of the earliest event in the period, or null", example: "2026-04-01T08:00:00.000Z" }),
    last_event_at: z
      .string()
      .nullable()
      .openapi({ description: "occurred_at of the latest event in the period, or null", example: "2026-04-30T17:59:00.000Z" }),
  })
  .openapi("AgentStats");

export const AnalyticsSummary = z
  .object({
    ...periodFields,
    currency: z.string().openapi({ description: "The organisation's currency: revenue, cost and margin are in it", example: "USD" }),
    revenue: Money("Σ total of the open and paid invoices issued in the period, in `currency`", 1254300),
    cost: Money("Σ amount of the cost events in the period, in `currency`", 310000),
    margin: Money("revenue − cost", 944300),
    revenue_by_currency: z.array(CurrencyAmount).openapi({ description: "Revenue per currency, every currency with invoices, by currency", example: [] }),
    cost_by_currency: z.array(CurrencyAmount).openapi({ description: "Recorded cost per currency, every currency with costs, by currency", example: [] }),
    events: z.number().int().openapi({ description: "Events of every kind in the period", example: 52000 }),
    activities: z.number().int().openapi({ description: "Activity events", example: 50000 }),
    costs: z.number().int().openapi({ description: "Cost events", example: 1960 }),
    ...outcomeFields,
  })
  .openapi("AnalyticsSummary", { description: REVENUE_RULE });

export const TOP_AGENT_METRICS = ["revenue", "activities", "outcomes"] as const;

export const TopAgentsQuery = PeriodQuery.extend({
  metric: z.enum(TOP_AGENT_METRICS).default("revenue").openapi({ description: "What to rank by", example: "revenue" }),
  limit: z.coerce.number().int().min(1).max(100).default(10).openapi({ description: "How many agents, 1 to 100", example: 10 }),
});

export const TopAgent = z
  .object({
    agent_id: z.string().openapi({ description: "Agent id", example: AGENT_ID_EXAMPLE }),
    name: z.string().openapi({ description: "Agent's name", example: "Support triage bot" }),
    status: z.enum(AGENT_STATUSES).openapi({ description: "The agent's status now", example: "active" }),
    revenue: Money("Σ value of the agent's successful outcomes in the organisation's currency", 450000),
    activities: z.number().int().openapi({ description: "Activity events", example: 1200 }),
    activity_units: z.string().openapi({ description: "Σ quantity of the activity events, 3 decimals", example: "1250.500" }),
    ...outcomeFields,
  })
  .openapi("TopAgent");

export const TopAgents = z
  .object({
    ...periodFields,
    metric: z.enum(TOP_AGENT_METRICS).openapi({ description: "What the agents are ranked by", example: "revenue" }),
    currency: z.string().openapi({ description: "The organisation's currency, that of `revenue`", example: "USD" }),
    data: z.array(TopAgent).openapi({ description: "Agents, highest first", example: [] }),
  })
  .openapi("TopAgents", { description: AGENT_REVENUE_RULE });

export const BREAKDOWN_GROUPS = ["type", "agent", "day"] as const;
export type BreakdownGroup = (typeof BREAKDOWN_GROUPS)[number];

export const ActivityBreakdownQuery = PeriodQuery.extend({
  group_by: z.enum(BREAKDOWN_GROUPS).default("type").openapi({ description: "How to group the activity events", example: "type" }),
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(1000)
    .default(100)
    .openapi({ description: "Most rows for type or agent, 1 to 1,000 (days always cover the whole period)", example: 100 }),
});

export const ActivityBreakdown = z
  .object({
    ...periodFields,
    group_by: z.enum(BREAKDOWN_GROUPS).openapi({ description: "How the rows are grouped", example: "type" }),
    data: z
      .array(
        z
          .object({
            key: z.string().openapi({ description: "Activity type, agent id, or day (YYYY-MM-DD)", example: "email_sent" }),
            label: z.string().openapi({ description: "What to show: the type, the agent's name or the day", example: "email_sent" }),
            events: z.number().int().openapi({ description: "Activity events in the row", example: 1100 }),
            units: z.string().openapi({ description: "Σ quantity, 3 decimals", example: "1250.500" }),
          })
          .openapi("ActivityBreakdownRow"),
      )
      .openapi({ description: "The rows, ordered as described", example: [] }),
  })
  .openapi("ActivityBreakdown", { description: BREAKDOWN_RULE });

export type PeriodInput = z.infer<typeof PeriodQuery>;
export type AgentStatsView = z.infer<typeof AgentStats>;
export type AnalyticsSummaryView = z.infer<typeof AnalyticsSummary>;
export type TopAgentsInput = z.infer<typeof TopAgentsQuery>;
export type TopAgentsView = z.infer<typeof TopAgents>;
export type ActivityBreakdownInput = z.infer<typeof ActivityBreakdownQuery>;
export type ActivityBreakdownView = z.infer<typeof ActivityBreakdown>;
