import { createRoute } from "@hono/zod-openapi";
import { createRouter, jsonBody, jsonResponse, problemResponses } from "../../../lib/openapi";
import { authed } from "../../identity/auth/route-security";
import { Agent, AgentIdParam, AgentList, AgentListQuery, CreateAgentBody, UpdateAgentBody } from "./schemas";
import { archiveAgent, createAgent, getAgent, listAgents, updateAgent } from "./service";

const tags = ["Agents"];

const listAgentsRoute = createRoute({
  method: "get",
  path: "/v1/agents",
  summary: "List agents; search by name or external id, filter by status or customer",
  tags,
  ...authed("agents:read"),
  request: { query: AgentListQuery },
  responses: { 200: jsonResponse(AgentList, "A page of agents"), ...problemResponses },
});

const createAgentRoute = createRoute({
  method: "post",
  path: "/v1/agents",
  summary: "Add an agent, optionally working for one of your customers",
  description: "`external_id` is unique in the organisation (409 when taken); `customer_id` must be a customer of the organisation (422 otherwise).",
  tags,
  ...authed("agents:write"),
  request: jsonBody(CreateAgentBody),
  responses: { 201: jsonResponse(Agent, "The new agent"), ...problemResponses },
});

const getAgentRoute = createRoute({
  method: "get",
  path: "/v1/agents/{id}",
  summary: "One agent",
  tags,
  ...authed("agents:read"),
  request: { params: AgentIdParam },
  responses: { 200: jsonResponse(Agent, "The agent"), ...problemResponses },
});

const updateAgentRoute = createRoute({
  method: "patch",
  path: "/v1/agents/{id}",
  summary: "Change an agent's details, customer or status",
  description: "Setting `status` to active or paused brings an archived agent back.",
  tags,
  ...authed("agents:write"),
  request: { params: AgentIdParam, ...jsonBody(UpdateAgentBody) },
  responses: { 200: jsonResponse(Agent, "The updated agent"), ...problemResponses },
});

const archiveAgentRoute = createRoute({
  method: "delete",
  path: "/v1/agents/{id}",
  summary: "Archive an agent: it records no more events; its events stay for invoices and analytics",
  tags,
  ...authed("agents:write"),
  request: { params: AgentIdParam },
  responses: { 204: { description: "Archived" }, ...problemResponses },
});

export const agentsRoutes = createRouter()
  .openapi(listAgentsRoute, async (c) => c.json(await listAgents(c.var.ctx, c.req.valid("query")), 200))
  .openapi(createAgentRoute, async (c) => c.json(await createAgent(c.var.ctx, c.req.valid("json")), 201))
  .openapi(getAgentRoute, async (c) => c.json(await getAgent(c.var.ctx, c.req.valid("param").id), 200))
  .openapi(updateAgentRoute, async (c) => c.json(await updateAgent(c.var.ctx, c.req.valid("param").id, c.req.valid("json")), 200))
  .openapi(archiveAgentRoute, async (c) => {
    await archiveAgent(c.var.ctx, c.req.valid("param").id);
    return c.body(null, 204);
  });
