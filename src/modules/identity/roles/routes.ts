import { createRoute } from "@hono/zod-openapi";
import { createRouter, jsonBody, jsonResponse, problemResponses } from "../../../lib/openapi";
import { authed } from "../auth/route-security";
import { Role, RoleBody, RoleIdParam, RoleList, RoleListQuery } from "./schemas";
import { createRole, deleteRole, listRoles, updateRole } from "./service";

const tags = ["Roles"];

const listRolesRoute = createRoute({
  method: "get",
  path: "/v1/roles",
  summary: "The system roles and the organisation's custom roles",
  tags,
  ...authed("roles:read"),
  request: { query: RoleListQuery },
  responses: { 200: jsonResponse(RoleList, "A page of roles"), ...problemResponses },
});

const createRoleRoute = createRoute({
  method: "post",
  path: "/v1/roles",
  summary: "Create a custom role from known permissions",
  tags,
  ...authed("roles:write"),
  request: jsonBody(RoleBody),
  responses: { 201: jsonResponse(Role, "Created"), ...problemResponses },
});

const updateRoleRoute = createRoute({
  method: "put",
  path: "/v1/roles/{id}",
  summary: "Replace a custom role; members holding it get the new permissions at once",
  tags,
  ...authed("roles:write"),
  request: { params: RoleIdParam, ...jsonBody(RoleBody) },
  responses: { 200: jsonResponse(Role, "Updated"), ...problemResponses },
});

const deleteRoleRoute = createRoute({
  method: "delete",
  path: "/v1/roles/{id}",
  summary: "Delete a custom role no member holds; pending invitations offering it are cancelled",
  tags,
  ...authed("roles:write"),
  request: { params: RoleIdParam },
  responses: { 204: { description: "Deleted" }, ...problemResponses },
});

export const rolesRoutes = createRouter()
  .openapi(listRolesRoute, async (c) => c.json(await listRoles(c.var.ctx, c.req.valid("query")), 200))
  .openapi(createRoleRoute, async (c) => c.json(await createRole(c.var.ctx, c.req.valid("json")), 201))
  .openapi(updateRoleRoute, async (c) => c.json(await updateRole(c.var.ctx, c.req.valid("param").id, c.req.valid("json")), 200))
  .openapi(deleteRoleRoute, async (c) => {
    await deleteRole(c.var.ctx, c.req.valid("param").id);
    return c.body(null, 204);
  });
