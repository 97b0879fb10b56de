import { createRoute } from "@hono/zod-openapi";
import { createRouter, jsonResponse, problemResponses } from "../../../lib/openapi";
import { authed } from "../../identity/auth/route-security";
import {
  LowStockList,
  LowStockQuery,
  PERIOD_RULE,
  PeriodQuery,
  REVENUE_RULE,
  SALES_RULE,
  Sales,
  SalesQuery,
  Summary,
  TopCustomers,
  TopCustomersQuery,
} from "./schemas";
import { getSales, getSummary, getTopCustomers, listLowStock } from "./service";

const tags = ["Dashboard"];
const MONEY = "Money is integer minor units of the organisation's currency, named in `currency`.";

const summaryRoute = createRoute({
  method: "get",
  path: "/v1/dashboard/summary",
  summary: "Revenue, money collected, outstanding, bill count, average bill and new customers of a period",
  description: [
    MONEY,
    REVENUE_RULE,
    "average_bill = round_half_up(revenue / bill_count), 0 without bills.",
    "collected = money received in the period: Σ bill payments except those paid from credit already on account (`method` credit) " +
      "+ Σ(amount − allocated) of payments on account − Σ refunds, each counted by when it was recorded.",
    "outstanding = Σ(total − amount_paid) over every bill that is issued or partially paid right now, whatever the period.",
    "new_customers = customers added in the period.",
    PERIOD_RULE,
  ].join("\n\n"),
  tags,
  ...authed("dashboard:read"),
  request: { query: PeriodQuery },
  responses: { 200: jsonResponse(Summary, "The period's figures"), ...problemResponses },
});

const topCustomersRoute = createRoute({
  method: "get",
  path: "/v1/dashboard/top-customers",
  summary: "Customers ranked by revenue in a period, with their bill count and current balance",
  description: [MONEY, REVENUE_RULE, "balance = what the customer owes now (the sum of their ledger).", PERIOD_RULE].join("\n\n"),
  tags,
  ...authed("dashboard:read"),
  request: { query: TopCustomersQuery },
  responses: { 200: jsonResponse(TopCustomers, "The top customers"), ...problemResponses },
});

const salesRoute = createRoute({
  method: "get",
  path: "/v1/dashboard/sales",
  summary: "Sales of a period by day, week, month, product or category",
  description: [MONEY, REVENUE_RULE, SALES_RULE, PERIOD_RULE].join("\n\n"),
  tags,
  ...authed("dashboard:read"),
  request: { query: SalesQuery },
  responses: { 200: jsonResponse(Sales, "The sales rows"), ...problemResponses },
});

const lowStockRoute = createRoute({
  method: "get",
  path: "/v1/dashboard/low-stock",
  summary: "Products on sale at or below their low-stock threshold, largest shortfall first",
  description: "Only products with a `low_stock_threshold` count. shortfall = low_stock_threshold − stock_quantity, in the product's unit.",
  tags,
  ...authed("dashboard:read"),
  request: { query: LowStockQuery },
  responses: { 200: jsonResponse(LowStockList, "A page of products low on stock"), ...problemResponses },
});

export const dashboardRoutes = createRouter()
  .openapi(summaryRoute, async (c) => c.json(await getSummary(c.var.ctx, c.req.valid("query")), 200))
  .openapi(topCustomersRoute, async (c) => c.json(await getTopCustomers(c.var.ctx, c.req.valid("query")), 200))
  .openapi(salesRoute, async (c) => c.json(await getSales(c.var.ctx, c.req.valid("query")), 200))
  .openapi(lowStockRoute, async (c) => c.json(await listLowStock(c.var.ctx, c.req.valid("query")), 200));
