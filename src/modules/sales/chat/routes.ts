import { createRoute, z } from "@hono/zod-openapi";
import { createRouter, jsonBody, jsonResponse, problemResponses } from "../../../lib/openapi";
import { authed } from "../../identity/auth/route-security";
import { ConversationIdParam } from "../conversations/schemas";
import { ChatTurnBody, ChatTurnResult, TurnMessageBody } from "./schemas";
import { runSalesTurn } from "./service";
import { streamSalesTurn } from "./stream-turn";
import { webTurn } from "./web-turn";

const tags = ["Chatbot"];

const SSE_DESCRIPTION = [
  "Server-Sent Events, in order: `thinking` ({step, stage}) while the planner and the lookups run,",
  "`content` ({delta}) for each piece of the reply as the model writes it, `meta` ({stage, conversation_id, contact_id, mode, attachment, usage, cost}),",
  "then `done` ({reply}). A failure after the stream began is an `error` event carrying the problem document.",
  "Closing the connection stops the model call.",
].join(" ");

const sseResponseSpec = (description: string) => ({
  description,
  content: { "text/event-stream": { schema: z.string().openapi({ example: 'event: content\ndata: {"delta":"Hello"}\n\n' }) } },
});

const chatRoute = createRoute({
  method: "post",
  path: "/v1/chatbot/chat",
  summary: "One turn of a sales conversation",
  description:
    "Without `conversation_id` a conversation starts (in the flow's first stage), optionally with the client's own `history`. " +
    "While staff have taken the conversation over, the message is stored, no model is asked and `reply` is null.",
  tags,
  ...authed("chatbot:write"),
  request: jsonBody(ChatTurnBody),
  responses: { 200: jsonResponse(ChatTurnResult, "The bot's reply and the stage after it"), ...problemResponses },
});

const chatStreamRoute = createRoute({
  method: "post",
  path: "/v1/chatbot/chat/stream",
  summary: "One turn of a sales conversation, the reply streamed",
  description: SSE_DESCRIPTION,
  tags,
  ...authed("chatbot:write"),
  request: jsonBody(ChatTurnBody),
  responses: { 200: sseResponseSpec("The turn as Server-Sent Events"), ...problemResponses },
});

const conversationTurnRoute = createRoute({
  method: "post",
  path: "/v1/chatbot/conversations/{conversation_id}/messages",
  summary: "One turn in this conversation",
  tags,
  ...authed("chatbot:write"),
  request: { params: ConversationIdParam, ...jsonBody(TurnMessageBody) },
  responses: { 200: jsonResponse(ChatTurnResult, "The bot's reply and the stage after it"), ...problemResponses },
});

export const salesChatRoutes = createRouter()
  .openapi(chatRoute, async (c) => {
    const ctx = c.var.ctx;
    const turn = await webTurn(ctx, c.req.valid("json"));
    return c.json(await runSalesTurn(ctx, { ...turn, signal: c.req.raw.signal }), 200);
  })
  .openapi(chatStreamRoute, async (c) => streamSalesTurn(c, await webTurn(c.var.ctx, c.req.valid("json")), { showCost: true }))
  .openapi(conversationTurnRoute, async (c) => {
    const ctx = c.var.ctx;
    const turn = await webTurn(ctx, { conversation_id: c.req.valid("param").conversation_id, message: c.req.valid("json").message });
    return c.json(await runSalesTurn(ctx, { ...turn, signal: c.req.raw.signal }), 200);
  });
