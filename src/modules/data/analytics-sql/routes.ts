import { createRoute } from "@hono/zod-openapi";
import { createRouter, jsonBody, jsonResponse, problem, problemResponses } from "../../../lib/openapi";
import { authed } from "../../identity/auth/route-security";
import { meterApiUsage } from "../../money/credits/metering";
import { AnalyticsExecuteBody, AnalyticsPromptBody, AnalyticsRows, AnalyticsSqlAnswer } from "./schemas";
import { ANALYTICS_PERMISSION, executeAnalyticsSql, writeAnalyticsSql } from "./service";

const tags = ["Own-data analytics"];
const analyticsQuery = authed(ANALYTICS_PERMISSION);

const writeSqlRoute = createRoute({
  method: "post",
  path: "/v1/ai/sql",
  summary: "Write SQL over your own Billx data from a question",
  description:
    "The model sees a curated description of the retail and metering tables (customers, bills, products, stock, merchants, credits, usage) " +
    "and writes one SELECT; the SQL guard must allow it (422 `sql-refused` otherwise). Nothing runs: pass the SQL to POST /v1/ai/sql/execute. " +
    "Charged in credits: 402 before any model call when short. Needs `analytics:query` (members have it, viewers do not).",
  tags,
  ...analyticsQuery,
  // Metering wraps authentication so refused calls (402, 403) are counted as well.
  middleware: [meterApiUsage(), ...analyticsQuery.middleware],
  request: jsonBody(AnalyticsPromptBody),
  responses: {
    200: jsonResponse(AnalyticsSqlAnswer, "The SQL and what it cost"),
    ...problemResponses,
    402: problem("Not enough credits; the body carries `balance` and `needed`"),
    502: problem("The provider refused the request or answered without SQL"),
    503: problem("The provider is not configured or not available right now"),
  },
});

const executeSqlRoute = createRoute({
  method: "post",
  path: "/v1/ai/sql/execute",
  summary: "Run one SELECT over your own Billx data",
  description:
    "The SQL guard judges the SQL against the curated tables (422 `sql-refused` with reasons). It then runs in a read-only transaction as a " +
    "restricted Postgres role under row-level security keyed to your organisation, so SQL without an org filter still sees only your rows; " +
    "with a statement timeout and row/byte caps (`truncated: true`), then rolled back. Postgres errors are 422 `sql-failed`. " +
    "Needs `analytics:query` (members have it, viewers do not).",
  tags,
  ...analyticsQuery,
  request: jsonBody(AnalyticsExecuteBody),
  responses: { 200: jsonResponse(AnalyticsRows, "The rows"), ...problemResponses },
});

export const analyticsSqlRoutes = createRouter()
  .openapi(writeSqlRoute, async (c) => c.json(await writeAnalyticsSql(c.var.ctx, c.req.valid("json")), 200))
  .openapi(executeSqlRoute, async (c) => c.json(await executeAnalyticsSql(c.var.ctx, c.req.valid("json")), 200));
