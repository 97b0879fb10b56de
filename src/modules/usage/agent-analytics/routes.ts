import { createRoute } from "@hono/zod-openapi";
import { createRouter, jsonResponse, problemResponses } from "../../../lib/openapi";
import { authed } from "../../identity/auth/route-security";
import { AgentIdParam } from "../agents/schemas";
import {
  ActivityBreakdown,
  ActivityBreakdownQuery,
  AGENT_REVENUE_RULE,
  AgentStats,
  AnalyticsSummary,
  BREAKDOWN_RULE,
  EVENT_PERIOD_RULE,
  PERIOD_RULE,
  PeriodQuery,
  REVENUE_RULE,
  SUCCESS_RATE_RULE,
  TopAgents,
  TopAgentsQuery,
} from "./schemas";
import { getActivityBreakdown, getAgentStats, getAnalyticsSummary, getTopAgents } from "./service";

const tags = ["Agent analytics"];
const MONEY = "Money is integer minor units.";

const agentStatsRoute = createRoute({
  method: "get",
  path: "/v1/agents/{id}/stats",
  summary: "What one agent did in a period: event counts, units per activity type, costs per currency, success rate",
  description: [MONEY, EVENT_PERIOD_RULE, SUCCESS_RATE_RULE, PERIOD_RULE].join("\n\n"),
  tags,
  ...authed("agents:read"),
  request: { params: AgentIdParam, query: PeriodQuery },
  responses: { 200: jsonResponse(AgentStats, "The agent's figures"), ...problemResponses },
});

const summaryRoute = createRoute({
  method: "get",
  path: "/v1/analytics/summary",
  summary: "Revenue, recorded cost, margin, events, outcomes and success rate of a period",
  description: [MONEY, REVENUE_RULE, EVENT_PERIOD_RULE, SUCCESS_RATE_RULE, PERIOD_RULE].join("\n\n"),
  tags,
  ...authed("analytics:read"),
  request: { query: PeriodQuery },
  responses: { 200: jsonResponse(AnalyticsSummary, "The period's figures"), ...problemResponses },
});

const topAgentsRoute = createRoute({
  method: "get",
  path: "/v1/analytics/top-agents",
  summary: "Agents ranked by revenue, activities or successful outcomes in a period",
  description: [MONEY, AGENT_REVENUE_RULE, EVENT_PERIOD_RULE, SUCCESS_RATE_RULE, PERIOD_RULE].join("\n\n"),
  tags,
  ...authed("analytics:read"),
  request: { query: TopAgentsQuery },
  responses: { 200: jsonResponse(TopAgents, "The top agents"), ...problemResponses },
});

const activityBreakdownRoute = createRoute({
  method: "get",
  path: "/v1/analytics/activity-breakdown",
  summary: "Activity events and units of a period by type, agent or day",
  description: [BREAKDOWN_RULE, EVENT_PERIOD_RULE, PERIOD_RULE].join("\n\n"),
  tags,
  ...authed("analytics:read"),
  request: { query: ActivityBreakdownQuery },
  responses: { 200: jsonResponse(ActivityBreakdown, "The rows"), ...problemResponses },
});

export const agentAnalyticsRoutes = createRouter()
  .openapi(agentStatsRoute, async (c) => c.json(await getAgentStats(c.var.ctx, c.req.valid("param").id, c.req.valid("query")), 200))
  .openapi(summaryRoute, async (c) => c.json(await getAnalyticsSummary(c.var.ctx, c.req.valid("query")), 200))
  .openapi(topAgentsRoute, async (c) => c.json(await getTopAgents(c.var.ctx, c.req.valid("query")), 200))
  .openapi(activityBreakdownRoute, async (c) => c.json(await getActivityBreakdown(c.var.ctx, c.req.valid("query")), 200));
