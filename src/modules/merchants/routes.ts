import { createRoute } from "@hono/zod-openapi";
import { createRouter, jsonBody, jsonResponse, problemResponses } from "../../lib/openapi";
import { authed } from "../auth/route-security";
import { CreateMerchantBody, Merchant, MerchantIdParam, MerchantList, MerchantListQuery, UpdateMerchantBody } from "./schemas";
import { archiveMerchant, createMerchant, getMerchant, listMerchants, updateMerchant } from "./service";

const tags = ["Merchants"];
const NO_BALANCE_YET = "Merchants (suppliers) carry no balance yet: purchases and supplier payments arrive in a later release.";

const listMerchantsRoute = createRoute({
  method: "get",
  path: "/v1/merchants",
  summary: "List merchants (suppliers); search by name, phone or email",
  description: NO_BALANCE_YET,
  tags,
  ...authed("merchants:read"),
  request: { query: MerchantListQuery },
  responses: { 200: jsonResponse(MerchantList, "A page of merchants"), ...problemResponses },
});

const createMerchantRoute = createRoute({
  method: "post",
  path: "/v1/merchants",
  summary: "Add a merchant (supplier)",
  description: NO_BALANCE_YET,
  tags,
  ...authed("merchants:write"),
  request: jsonBody(CreateMerchantBody),
  responses: { 201: jsonResponse(Merchant, "The new merchant"), ...problemResponses },
});

const getMerchantRoute = createRoute({
  method: "get",
  path: "/v1/merchants/{id}",
  summary: "One merchant",
  description: NO_BALANCE_YET,
  tags,
  ...authed("merchants:read"),
  request: { params: MerchantIdParam },
  responses: { 200: jsonResponse(Merchant, "The merchant"), ...problemResponses },
});

const updateMerchantRoute = createRoute({
  method: "patch",
  path: "/v1/merchants/{id}",
  summary: "Change a merchant's details",
  tags,
  ...authed("merchants:write"),
  request: { params: MerchantIdParam, ...jsonBody(UpdateMerchantBody) },
  responses: { 200: jsonResponse(Merchant, "The updated merchant"), ...problemResponses },
});

const archiveMerchantRoute = createRoute({
  method: "delete",
  path: "/v1/merchants/{id}",
  summary: "Archive a merchant: hidden from the list, kept for later purchases records",
  tags,
  ...authed("merchants:write"),
  request: { params: MerchantIdParam },
  responses: { 204: { description: "Archived" }, ...problemResponses },
});

export const merchantsRoutes = createRouter()
  .openapi(listMerchantsRoute, async (c) => c.json(await listMerchants(c.var.ctx, c.req.valid("query")), 200))
  .openapi(createMerchantRoute, async (c) => c.json(await createMerchant(c.var.ctx, c.req.valid("json")), 201))
  .openapi(getMerchantRoute, async (c) => c.json(await getMerchant(c.var.ctx, c.req.valid("param").id), 200))
  .openapi(updateMerchantRoute, async (c) => c.json(await updateMerchant(c.var.ctx, c.req.valid("param").id, c.req.valid("json")), 200))
  .openapi(archiveMerchantRoute, async (c) => {
    await archiveMerchant(c.var.ctx, c.req.valid("param").id);
    return c.body(null, 204);
  });
