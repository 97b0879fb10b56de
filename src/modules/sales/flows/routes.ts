import { createRoute } from "@hono/zod-openapi";
import { createRouter, jsonBody, jsonResponse, problemResponses } from "../../../lib/openapi";
import { authed } from "../../identity/auth/route-security";
import { Flow, PutFlowBody } from "./schemas";
import { getFlow, putFlow } from "./service";

const tags = ["Chatbot"];

const getFlowRoute = createRoute({
  method: "get",
  path: "/v1/chatbot/flow",
  summary: "The organisation's sales flow (the seven default stages until changed)",
  tags,
  ...authed("chatbot:read"),
  responses: { 200: jsonResponse(Flow, "The flow"), ...problemResponses },
});

const putFlowRoute = createRoute({
  method: "put",
  path: "/v1/chatbot/flow",
  summary: "Replace the sales flow's stages",
  description:
    "Stages are greeting, opening, consultation, testimony, promo, closing and farewell, listed in that order; some may be left out but not greeting, closing or farewell. " +
    "Only closing leads to farewell, farewell leads nowhere, and nothing before consultation leads to promo. A graph that breaks a rule is a 422 naming each field.",
  tags,
  ...authed("chatbot:write"),
  request: jsonBody(PutFlowBody),
  responses: { 200: jsonResponse(Flow, "The flow"), ...problemResponses },
});

export const salesFlowRoutes = createRouter()
  .openapi(getFlowRoute, async (c) => c.json(await getFlow(c.var.ctx), 200))
  .openapi(putFlowRoute, async (c) => c.json(await putFlow(c.var.ctx, c.req.valid("json")), 200));
