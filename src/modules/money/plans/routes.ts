import { createRoute } from "@hono/zod-openapi";
import { createRouter, jsonResponse, problemResponses } from "../../../lib/openapi";
import { authed } from "../../identity/auth/route-security";
import { OrgPlan, PlanList } from "./schemas";
import { getActiveOrgPlan, listPlans } from "./service";

const tags = ["Credits"];

const listPlansRoute = createRoute({
  method: "get",
  path: "/v1/plans",
  summary: "The plans and what each gives (public)",
  description:
    "Credits are what limit use: every plan, the free one included, can use every paid feature within its credits. The limits listed are enforced: going past one answers 403 `plan-limit` naming the plan.",
  tags,
  responses: { 200: jsonResponse(PlanList, "Every plan, smallest first") },
});

const orgPlanRoute = createRoute({
  method: "get",
  path: "/v1/org/plan",
  summary: "The active organisation's plan, its subscription and what counts against its limits",
  tags,
  ...authed("credits:read"),
  responses: { 200: jsonResponse(OrgPlan, "The plan"), ...problemResponses },
});

export const plansRoutes = createRouter()
  .openapi(listPlansRoute, (c) => c.json(listPlans(), 200))
  .openapi(orgPlanRoute, async (c) => c.json(await getActiveOrgPlan(c.var.ctx), 200));
