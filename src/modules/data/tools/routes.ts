import { createRoute } from "@hono/zod-openapi";
import { createRouter, jsonBody, jsonResponse, problemResponses } from "../../../lib/openapi";
import { authed } from "../../identity/auth/route-security";
import { CreateToolBody, ExecuteToolBody, Tool, ToolCreated, ToolIdParam, ToolList, ToolListQuery, ToolResult } from "./schemas";
import { createTool, deleteTool, executeTool, getTool, listTools } from "./service";

const tags = ["Tools"];

const createToolRoute = createRoute({
  method: "post",
  path: "/v1/tools",
  summary: "Create a reusable parameterised query (from SQL, or from a prompt the model turns into SQL)",
  description: "The template must pass the SQL guard and use $1..$n for exactly the parameters its JSON Schema defines.",
  tags,
  ...authed("tools:write"),
  request: jsonBody(CreateToolBody),
  responses: { 201: jsonResponse(ToolCreated, "The tool"), ...problemResponses },
});

const listToolsRoute = createRoute({
  method: "get",
  path: "/v1/tools",
  summary: "Tools, oldest first",
  tags,
  ...authed("tools:read"),
  request: { query: ToolListQuery },
  responses: { 200: jsonResponse(ToolList, "A page of tools"), ...problemResponses },
});

const getToolRoute = createRoute({
  method: "get",
  path: "/v1/tools/{id}",
  summary: "One tool",
  tags,
  ...authed("tools:read"),
  request: { params: ToolIdParam },
  responses: { 200: jsonResponse(Tool, "The tool"), ...problemResponses },
});

const deleteToolRoute = createRoute({
  method: "delete",
  path: "/v1/tools/{id}",
  summary: "Delete a tool",
  tags,
  ...authed("tools:write"),
  request: { params: ToolIdParam },
  responses: { 204: { description: "Deleted" }, ...problemResponses },
});

const executeToolRoute = createRoute({
  method: "post",
  path: "/v1/tools/{id}/execute",
  summary: "Run a tool with parameters (validated against its schema, bound as query parameters)",
  tags,
  ...authed("databases:query"),
  request: { params: ToolIdParam, ...jsonBody(ExecuteToolBody) },
  responses: { 200: jsonResponse(ToolResult, "The rows"), ...problemResponses },
});

export const toolsRoutes = createRouter()
  .openapi(createToolRoute, async (c) => c.json(await createTool(c.var.ctx, c.req.valid("json")), 201))
  .openapi(listToolsRoute, async (c) => c.json(await listTools(c.var.ctx, c.req.valid("query")), 200))
  .openapi(getToolRoute, async (c) => c.json(await getTool(c.var.ctx, c.req.valid("param").id), 200))
  .openapi(deleteToolRoute, async (c) => {
    await deleteTool(c.var.ctx, c.req.valid("param").id);
    return c.body(null, 204);
  })
  .openapi(executeToolRoute, async (c) => c.json(await executeTool(c.var.ctx, c.req.valid("param").id, c.req.valid("json").params), 200));
