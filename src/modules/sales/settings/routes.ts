import { createRoute } from "@hono/zod-openapi";
import { createRouter, jsonBody, jsonResponse, problemResponses } from "../../../lib/openapi";
import { authed } from "../../identity/auth/route-security";
import { AgentConfigs, LlmOptions, Prompt, PromptList, PromptSlugParam, PutAgentConfigsBody, PutPromptBody, RevertPromptBody } from "./schemas";
import { getAgentConfigs, listPrompts, llmOptions, putAgentConfigs, revertPrompt, updatePrompt } from "./service";

const tags = ["Sales chatbot settings"];

const optionsRoute = createRoute({
  method: "get",
  path: "/v1/admin/llm/options",
  summary: "Model providers this platform has keys for, their chat models and prices",
  tags,
  ...authed("org:read"),
  responses: { 200: jsonResponse(LlmOptions, "Providers with keys, their models and prices"), ...problemResponses },
});

const getConfigsRoute = createRoute({
  method: "get",
  path: "/v1/admin/configs",
  summary: "The provider and model each chatbot agent uses",
  tags,
  ...authed("org:read"),
  responses: { 200: jsonResponse(AgentConfigs, "Every agent's provider and model"), ...problemResponses },
});

const putConfigsRoute = createRoute({
  method: "put",
  path: "/v1/admin/configs",
  summary: "Choose the provider and model of chatbot agents",
  description: "Agents in the body are set (`null`: back to the platform default); agents left out keep their choice. The provider must have a key here.",
  tags,
  ...authed("org:write"),
  request: jsonBody(PutAgentConfigsBody),
  responses: { 200: jsonResponse(AgentConfigs, "Every agent's provider and model"), ...problemResponses },
});

const listPromptsRoute = createRoute({
  method: "get",
  path: "/v1/admin/prompts",
  summary: "Every chatbot prompt with the text in use",
  tags,
  ...authed("org:read"),
  responses: { 200: jsonResponse(PromptList, "Prompts by slug: agents first, then stages"), ...problemResponses },
});

const putPromptRoute = createRoute({
  method: "put",
  path: "/v1/admin/prompts/{slug}",
  summary: "Write a new version of a prompt, or make an earlier one current",
  tags,
  ...authed("org:write"),
  request: { params: PromptSlugParam, ...jsonBody(PutPromptBody) },
  responses: { 200: jsonResponse(Prompt, "The prompt as now in use"), ...problemResponses },
});

const revertPromptRoute = createRoute({
  method: "post",
  path: "/v1/admin/prompts/{slug}/revert",
  summary: "Make an earlier version of a prompt current again (0: the built-in default)",
  tags,
  ...authed("org:write"),
  request: { params: PromptSlugParam, ...jsonBody(RevertPromptBody) },
  responses: { 200: jsonResponse(Prompt, "The prompt as now in use"), ...problemResponses },
});

export const salesSettingsRoutes = createRouter()
  .openapi(optionsRoute, async (c) => c.json(await llmOptions(c.var.ctx), 200))
  .openapi(getConfigsRoute, async (c) => c.json(await getAgentConfigs(c.var.ctx), 200))
  .openapi(putConfigsRoute, async (c) => c.json(await putAgentConfigs(c.var.ctx, c.req.valid("json")), 200))
  .openapi(listPromptsRoute, async (c) => c.json({ data: await listPrompts(c.var.ctx) }, 200))
  .openapi(putPromptRoute, async (c) => c.json(await updatePrompt(c.var.ctx, c.req.valid("param").slug, c.req.valid("json")), 200))
  .openapi(revertPromptRoute, async (c) => c.json(await revertPrompt(c.var.ctx, c.req.valid("param").slug, c.req.valid("json").version, "version"), 200));
