import { createRoute } from "@hono/zod-openapi";
import { createRouter, jsonBody, jsonResponse, problemResponses } from "../../../lib/openapi";
import { authed } from "../auth/route-security";
import { CreateOrgBody, Org, OrgIdParam, OrgList, OrgListQuery, OrgStats, UpdateOrgBody } from "./schemas";
import { createOrg, deleteOrg, getOrg, listMyOrgs, orgStats, updateOrg } from "./service";

const tags = ["Organizations"];

const createOrgRoute = createRoute({
  method: "post",
  path: "/v1/orgs",
  summary: "Create an organisation; the caller becomes its owner",
  tags,
  // Not scoped to the active organisation: the new one does not exist yet.
  ...authed(),
  request: jsonBody(CreateOrgBody),
  responses: { 201: jsonResponse(Org, "Created"), ...problemResponses },
});

const listOrgsRoute = createRoute({
  method: "get",
  path: "/v1/orgs",
  summary: "The caller's organisations",
  tags,
  ...authed(),
  request: { query: OrgListQuery },
  responses: { 200: jsonResponse(OrgList, "A page of organisations"), ...problemResponses },
});

const getOrgRoute = createRoute({
  method: "get",
  path: "/v1/orgs/{id}",
  summary: "The active organisation",
  tags,
  ...authed("org:read"),
  request: { params: OrgIdParam },
  responses: { 200: jsonResponse(Org, "The organisation"), ...problemResponses },
});

const updateOrgRoute = createRoute({
  method: "patch",
  path: "/v1/orgs/{id}",
  summary: "Rename the organisation or change its currency",
  tags,
  ...authed("org:write"),
  request: { params: OrgIdParam, ...jsonBody(UpdateOrgBody) },
  responses: { 200: jsonResponse(Org, "Updated"), ...problemResponses },
});

const deleteOrgRoute = createRoute({
  method: "delete",
  path: "/v1/orgs/{id}",
  summary: "Delete the organisation and everything it owns (owners only)",
  tags,
  ...authed("org:delete"),
  request: { params: OrgIdParam },
  responses: { 204: { description: "Deleted" }, ...problemResponses },
});

const orgStatsRoute = createRoute({
  method: "get",
  path: "/v1/orgs/{id}/stats",
  summary: "Counts of members, pending invitations, API keys and custom roles",
  tags,
  ...authed("org:read"),
  request: { params: OrgIdParam },
  responses: { 200: jsonResponse(OrgStats, "The counts"), ...problemResponses },
});

export const orgsRoutes = createRouter()
  .openapi(createOrgRoute, async (c) => c.json(await createOrg(c.var.ctx, c.req.valid("json")), 201))
  .openapi(listOrgsRoute, async (c) => c.json(await listMyOrgs(c.var.ctx, c.req.valid("query")), 200))
  .openapi(getOrgRoute, async (c) => c.json(await getOrg(c.var.ctx, c.req.valid("param").id), 200))
  .openapi(updateOrgRoute, async (c) => c.json(await updateOrg(c.var.ctx, c.req.valid("param").id, c.req.valid("json")), 200))
  .openapi(deleteOrgRoute, async (c) => {
    await deleteOrg(c.var.ctx, c.req.valid("param").id);
    return c.body(null, 204);
  })
  .openapi(orgStatsRoute, async (c) => c.json(await orgStats(c.var.ctx, c.req.valid("param").id), 200));
