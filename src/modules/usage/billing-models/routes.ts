import { createRoute } from "@hono/zod-openapi";
import { createRouter, jsonBody, jsonResponse, problemResponses } from "../../../lib/openapi";
import { authed } from "../../identity/auth/route-security";
import { getBillingPlan, putBillingPlan, removeBillingPlan } from "./plans";
import {
  BillingModel,
  BillingModelIdParam,
  BillingModelList,
  BillingModelListQuery,
  BillingModelVersion,
  BillingModelVersionParams,
  BillingPlan,
  CalculateBody,
  Calculation,
  CreateBillingModelBody,
  CustomerIdParam,
  PRICING_RULE,
  PutBillingPlanBody,
  UpdateBillingModelBody,
} from "./schemas";
import { archiveBillingModel, createBillingModel, getBillingModel, getBillingModelVersion, listBillingModels, updateBillingModel } from "./service";
import { calculateForModel } from "./usage";

const tags = ["Billing models"];

const createBillingModelRoute = createRoute({
  method: "post",
  path: "/v1/billing-models",
  summary: "Create a billing model; its terms are version 1",
  description: PRICING_RULE,
  tags,
  ...authed("billing_models:write"),
  request: jsonBody(CreateBillingModelBody),
  responses: { 201: jsonResponse(BillingModel, "The new billing model"), ...problemResponses },
});

const listBillingModelsRoute = createRoute({
  method: "get",
  path: "/v1/billing-models",
  summary: "List billing models that are not archived; search by name",
  tags,
  ...authed("billing_models:read"),
  request: { query: BillingModelListQuery },
  responses: { 200: jsonResponse(BillingModelList, "A page of billing models"), ...problemResponses },
});

const getBillingModelRoute = createRoute({
  method: "get",
  path: "/v1/billing-models/{id}",
  summary: "One billing model with its current terms",
  tags,
  ...authed("billing_models:read"),
  request: { params: BillingModelIdParam },
  responses: { 200: jsonResponse(BillingModel, "The billing model"), ...problemResponses },
});

const updateBillingModelRoute = createRoute({
  method: "patch",
  path: "/v1/billing-models/{id}",
  summary: "Edit a billing model: changed terms become a new version",
  description: "Earlier versions never change, so invoices keep the terms they were computed with. An archived model cannot be edited (409).",
  tags,
  ...authed("billing_models:write"),
  request: { params: BillingModelIdParam, ...jsonBody(UpdateBillingModelBody) },
  responses: { 200: jsonResponse(BillingModel, "The billing model with its new current version"), ...problemResponses },
});

const archiveBillingModelRoute = createRoute({
  method: "delete",
  path: "/v1/billing-models/{id}",
  summary: "Archive a billing model: hidden from the list, no new customers, kept for invoices",
  tags,
  ...authed("billing_models:write"),
  request: { params: BillingModelIdParam },
  responses: { 204: { description: "Archived" }, ...problemResponses },
});

const getBillingModelVersionRoute = createRoute({
  method: "get",
  path: "/v1/billing-models/{id}/versions/{version}",
  summary: "The terms of one version of a billing model",
  tags,
  ...authed("billing_models:read"),
  request: { params: BillingModelVersionParams },
  responses: { 200: jsonResponse(BillingModelVersion, "The version"), ...problemResponses },
});

const calculateRoute = createRoute({
  method: "post",
  path: "/v1/billing-models/{id}/calculate",
  summary: "What the model would charge for a period's usage; creates nothing",
  description: PRICING_RULE,
  tags,
  ...authed("billing_models:read"),
  request: { params: BillingModelIdParam, ...jsonBody(CalculateBody) },
  responses: { 200: jsonResponse(Calculation, "The charges"), ...problemResponses },
});

const putBillingPlanRoute = createRoute({
  method: "put",
  path: "/v1/customers/{id}/billing-plan",
  summary: "Bill a customer with a billing model (replaces its current plan)",
  description: "The model must be the organisation's and not archived. `seats` is the count used by seat components with seats = manual.",
  tags,
  ...authed("billing_models:write"),
  request: { params: CustomerIdParam, ...jsonBody(PutBillingPlanBody) },
  responses: { 200: jsonResponse(BillingPlan, "The customer's billing plan"), ...problemResponses },
});

const getBillingPlanRoute = createRoute({
  method: "get",
  path: "/v1/customers/{id}/billing-plan",
  summary: "The billing model a customer is billed with",
  tags,
  ...authed("billing_models:read"),
  request: { params: CustomerIdParam },
  responses: { 200: jsonResponse(BillingPlan, "The customer's billing plan"), ...problemResponses },
});

const removeBillingPlanRoute = createRoute({
  method: "delete",
  path: "/v1/customers/{id}/billing-plan",
  summary: "Stop billing a customer with usage invoices",
  tags,
  ...authed("billing_models:write"),
  request: { params: CustomerIdParam },
  responses: { 204: { description: "Removed" }, ...problemResponses },
});

export const billingModelsRoutes = createRouter()
  .openapi(createBillingModelRoute, async (c) => c.json(await createBillingModel(c.var.ctx, c.req.valid("json")), 201))
  .openapi(listBillingModelsRoute, async (c) => c.json(await listBillingModels(c.var.ctx, c.req.valid("query")), 200))
  .openapi(getBillingModelRoute, async (c) => c.json(await getBillingModel(c.var.ctx, c.req.valid("param").id), 200))
  .openapi(updateBillingModelRoute, async (c) => c.json(await updateBillingModel(c.var.ctx, c.req.valid("param").id, c.req.valid("json")), 200))
  .openapi(archiveBillingModelRoute, async (c) => {
    await archiveBillingModel(c.var.ctx, c.req.valid("param").id);
    return c.body(null, 204);
  })
  .openapi(getBillingModelVersionRoute, async (c) => {
    const { id, version } = c.req.valid("param");
    return c.json(await getBillingModelVersion(c.var.ctx, id, version), 200);
  })
  .openapi(calculateRoute, async (c) => c.json(await calculateForModel(c.var.ctx, c.req.valid("param").id, c.req.valid("json")), 200))
  .openapi(putBillingPlanRoute, async (c) => c.json(await putBillingPlan(c.var.ctx, c.req.valid("param").id, c.req.valid("json")), 200))
  .openapi(getBillingPlanRoute, async (c) => c.json(await getBillingPlan(c.var.ctx, c.req.valid("param").id), 200))
  .openapi(removeBillingPlanRoute, async (c) => {
    await removeBillingPlan(c.var.ctx, c.req.valid("param").id);
    return c.body(null, 204);
  });
