import { createRoute } from "@hono/zod-openapi";
import { createRouter, jsonBody, jsonResponse, problemResponses } from "../../../lib/openapi";
import { authed } from "../../identity/auth/route-security";
import { ChatBody, ChatResult, FeedbackBody, HistoryEntry, HistoryList, HistoryQuery, RunIdParam } from "./schemas";
import { askDatabase, giveFeedback, queryHistory } from "./service";

const tags = ["Ask your data"];

const chatRoute = createRoute({
  method: "post",
  path: "/v1/query/chat",
  summary: "Ask a linked database a question in plain language",
  description:
    "The model writes SQL from the relevant part of the schema, the organisation's confirmed examples and the conversation so far. " +
    "The SQL guard judges it (422 `sql-refused` and nothing runs when it is not a plain read); it runs in a read-only transaction with " +
    "a timeout and row/byte caps. When Postgres refuses it, the model gets one repair. Charged in credits: 402 before any model call when short.",
  tags,
  ...authed("databases:query"),
  request: jsonBody(ChatBody),
  responses: { 200: jsonResponse(ChatResult, "The SQL, its explanation and its rows"), ...problemResponses },
});

const historyRoute = createRoute({
  method: "get",
  path: "/v1/query/history",
  summary: "Questions asked of linked databases, newest first",
  tags,
  ...authed("databases:read"),
  request: { query: HistoryQuery },
  responses: { 200: jsonResponse(HistoryList, "A page of questions"), ...problemResponses },
});

const feedbackRoute = createRoute({
  method: "post",
  path: "/v1/query/{id}/feedback",
  summary: "Say whether a question was answered right; right (or corrected) SQL becomes a few-shot example",
  tags,
  ...authed("databases:query"),
  request: { params: RunIdParam, ...jsonBody(FeedbackBody) },
  responses: { 200: jsonResponse(HistoryEntry, "The question with its feedback"), ...problemResponses },
});

export const queryRoutes = createRouter()
  .openapi(chatRoute, async (c) => c.json(await askDatabase(c.var.ctx, c.req.valid("json")), 200))
  .openapi(historyRoute, async (c) => c.json(await queryHistory(c.var.ctx, c.req.valid("query")), 200))
  .openapi(feedbackRoute, async (c) => c.json(await giveFeedback(c.var.ctx, c.req.valid("param").id, c.req.valid("json")), 200));
