import { createRoute } from "@hono/zod-openapi";
import { createRouter, jsonBody, jsonResponse, problemResponses } from "../../../lib/openapi";
import { authed } from "../../identity/auth/route-security";
import { CreateDatabaseBody, DatabaseIdParam, LinkedDatabase, LinkedDatabaseDetail, LinkedDatabaseList, LinkedDatabaseListQuery } from "./schemas";
import { getDatabase, linkDatabase, listDatabases, refreshSchema, unlinkDatabase } from "./service";

const tags = ["Linked databases"];

const linkRoute = createRoute({
  method: "post",
  path: "/v1/databases",
  summary: "Link a Postgres database: connect, read its schema, store the URL encrypted",
  description: "The URL is checked by connecting; a role that can write is linked with a warning. The URL is never returned or logged.",
  tags,
  ...authed("databases:write"),
  request: jsonBody(CreateDatabaseBody),
  responses: { 201: jsonResponse(LinkedDatabase, "The linked database"), ...problemResponses },
});

const listRoute = createRoute({
  method: "get",
  path: "/v1/databases",
  summary: "Linked databases",
  tags,
  ...authed("databases:read"),
  request: { query: LinkedDatabaseListQuery },
  responses: { 200: jsonResponse(LinkedDatabaseList, "A page of linked databases"), ...problemResponses },
});

const getRoute = createRoute({
  method: "get",
  path: "/v1/databases/{id}",
  summary: "A linked database with its cached schema",
  tags,
  ...authed("databases:read"),
  request: { params: DatabaseIdParam },
  responses: { 200: jsonResponse(LinkedDatabaseDetail, "The database and the tables that may be queried"), ...problemResponses },
});

const deleteRoute = createRoute({
  method: "delete",
  path: "/v1/databases/{id}",
  summary: "Unlink a database (its history, examples and tools go with it)",
  tags,
  ...authed("databases:write"),
  request: { params: DatabaseIdParam },
  responses: { 204: { description: "Unlinked" }, ...problemResponses },
});

const refreshRoute = createRoute({
  method: "post",
  path: "/v1/databases/{id}/refresh-schema",
  summary: "Read the database's schema again",
  tags,
  ...authed("databases:write"),
  request: { params: DatabaseIdParam },
  responses: { 200: jsonResponse(LinkedDatabaseDetail, "The database with its new schema"), ...problemResponses },
});

export const databasesRoutes = createRouter()
  .openapi(linkRoute, async (c) => c.json(await linkDatabase(c.var.ctx, c.req.valid("json")), 201))
  .openapi(listRoute, async (c) => c.json(await listDatabases(c.var.ctx, c.req.valid("query")), 200))
  .openapi(getRoute, async (c) => c.json(await getDatabase(c.var.ctx, c.req.valid("param").id), 200))
  .openapi(deleteRoute, async (c) => {
    await unlinkDatabase(c.var.ctx, c.req.valid("param").id);
    return c.body(null, 204);
  })
  .openapi(refreshRoute, async (c) => c.json(await refreshSchema(c.var.ctx, c.req.valid("param").id), 200));
