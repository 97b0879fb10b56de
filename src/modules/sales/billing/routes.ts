import { createRoute } from "@hono/zod-openapi";
import { createRouter, jsonResponse, problemResponses } from "../../../lib/openapi";
import { authed } from "../../identity/auth/route-security";
import { BillingSummary, EventsQuery, SummaryQuery, UsageEventPage } from "./schemas";
import { billingSummary, listUsageEvents } from "./service";

const tags = ["Sales chatbot billing"];

const summaryRoute = createRoute({
  method: "get",
  path: "/v1/billing/summary",
  summary: "What the chatbot's model calls cost: totals, per day, per model, the latest calls",
  tags,
  ...authed("credits:read"),
  request: { query: SummaryQuery },
  responses: { 200: jsonResponse(BillingSummary, "The chatbot's spend over the range"), ...problemResponses },
});

const eventsRoute = createRoute({
  method: "get",
  path: "/v1/billing/events",
  summary: "The chatbot's model calls, newest first",
  tags,
  ...authed("credits:read"),
  request: { query: EventsQuery },
  responses: { 200: jsonResponse(UsageEventPage, "A page of model calls"), ...problemResponses },
});

export const salesBillingRoutes = createRouter()
  .openapi(summaryRoute, async (c) => c.json(await billingSummary(c.var.ctx, c.req.valid("query")), 200))
  .openapi(eventsRoute, async (c) => c.json(await listUsageEvents(c.var.ctx, c.req.valid("query")), 200));
