import { createRoute, z } from "@hono/zod-openapi";
import { createRouter, jsonBody, jsonResponse, problemResponses } from "../../../lib/openapi";
import { authed } from "../../identity/auth/route-security";
import { sseResponse } from "../chat/sse";
import { KnowledgeAnswer, KnowledgeSearchBody, ProductAnswer, ProductQueryBody } from "./schemas";
import { knowledgeSearch, productQuery } from "./service";

const tags = ["Chatbot"];

const stream = (what: string) => ({
  description: `Server-Sent Events: \`content\` ({delta}) as the answer is written, \`meta\` (${what}, usage, cost), then \`done\` ({answer}); \`error\` carries a problem document.`,
  content: { "text/event-stream": { schema: z.string().openapi({ example: 'event: content\ndata: {"delta":"The"}\n\n' }) } },
});

const productQueryRoute = createRoute({
  method: "post",
  path: "/v1/chatbot/product-query",
  summary: "Ask the product agent (facts from your products only)",
  tags,
  ...authed("chatbot:write"),
  request: jsonBody(ProductQueryBody),
  responses: { 200: jsonResponse(ProductAnswer, "The answer and the products it is based on"), ...problemResponses },
});

const productQueryStreamRoute = createRoute({
  method: "post",
  path: "/v1/chatbot/product-query/stream",
  summary: "Ask the product agent, the answer streamed",
  tags,
  ...authed("chatbot:write"),
  request: jsonBody(ProductQueryBody),
  responses: { 200: stream("products"), ...problemResponses },
});

const knowledgeSearchRoute = createRoute({
  method: "post",
  path: "/v1/chatbot/knowledge-search",
  summary: "Ask the knowledge agent (answers from a knowledge base only)",
  tags,
  ...authed("chatbot:write"),
  request: jsonBody(KnowledgeSearchBody),
  responses: { 200: jsonResponse(KnowledgeAnswer, "The answer and the passages it is based on"), ...problemResponses },
});

const knowledgeSearchStreamRoute = createRoute({
  method: "post",
  path: "/v1/chatbot/knowledge-search/stream",
  summary: "Ask the knowledge agent, the answer streamed",
  tags,
  ...authed("chatbot:write"),
  request: jsonBody(KnowledgeSearchBody),
  responses: { 200: stream("assistant_id, passages"), ...problemResponses },
});

export const salesAgentRoutes = createRouter()
  .openapi(productQueryRoute, async (c) => c.json(await productQuery(c.var.ctx, c.req.valid("json").query, { signal: c.req.raw.signal }), 200))
  .openapi(productQueryStreamRoute, async (c) => {
    const { query } = c.req.valid("json");
    return sseResponse(c, async (emit, signal) => {
      const { answer, ...meta } = await productQuery(c.var.ctx, query, { signal, onDelta: (delta) => emit("content", { delta }) });
      emit("meta", meta);
      emit("done", { answer });
    });
  })
  .openapi(knowledgeSearchRoute, async (c) => c.json(await knowledgeSearch(c.var.ctx, c.req.valid("json"), { signal: c.req.raw.signal }), 200))
  .openapi(knowledgeSearchStreamRoute, async (c) => {
    const input = c.req.valid("json");
    return sseResponse(c, async (emit, signal) => {
      const { answer, ...meta } = await knowledgeSearch(c.var.ctx, input, { signal, onDelta: (delta) => emit("content", { delta }) });
      emit("meta", meta);
      emit("done", { answer });
    });
  });
