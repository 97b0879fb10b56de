import { createRoute } from "@hono/zod-openapi";
import { createRouter, jsonBody, jsonResponse, problemResponses } from "../../../lib/openapi";
import { authed } from "../../identity/auth/route-security";
import {
  ContactHistory,
  ContactIdParam,
  Conversation,
  ConversationDetail,
  ConversationIdParam,
  ConversationList,
  ConversationListQuery,
  CreateConversationBody,
  StaffReplyBody,
  UpdateConversationBody,
} from "./schemas";
import {
  contactHistory,
  createConversation,
  deleteContactHistory,
  deleteConversation,
  getConversation,
  listConversations,
  releaseConversation,
  renameConversation,
  staffReply,
  takeOverConversation,
} from "./service";

const tags = ["Chatbot"];
const path = "/v1/chatbot/conversations/{conversation_id}";
const request = { params: ConversationIdParam };

const listRoute = createRoute({
  method: "get",
  path: "/v1/chatbot/conversations",
  summary: "Sales conversations, newest first, optionally of one contact",
  tags,
  ...authed("chatbot:read"),
  request: { query: ConversationListQuery },
  responses: { 200: jsonResponse(ConversationList, "A page of conversations"), ...problemResponses },
});

const createRouteSpec = createRoute({
  method: "post",
  path: "/v1/chatbot/conversations",
  summary: "Start an empty web conversation",
  tags,
  ...authed("chatbot:write"),
  request: jsonBody(CreateConversationBody),
  responses: { 201: jsonResponse(Conversation, "The new conversation, in the flow's first stage"), ...problemResponses },
});

const getRoute = createRoute({
  method: "get",
  path,
  summary: "A conversation with its stage and messages",
  tags,
  ...authed("chatbot:read"),
  request,
  responses: { 200: jsonResponse(ConversationDetail, "The conversation"), ...problemResponses },
});

const patchRoute = createRoute({
  method: "patch",
  path,
  summary: "Set or clear a conversation's title",
  tags,
  ...authed("chatbot:write"),
  request: { ...request, ...jsonBody(UpdateConversationBody) },
  responses: { 200: jsonResponse(Conversation, "The conversation"), ...problemResponses },
});

const deleteRouteSpec = createRoute({
  method: "delete",
  path,
  summary: "Delete a conversation, its messages and its memory",
  tags,
  ...authed("chatbot:write"),
  request,
  responses: { 204: { description: "Deleted" }, ...problemResponses },
});

const takeoverRoute = createRoute({
  method: "post",
  path: `${path}/takeover`,
  summary: "Take the conversation over: the bot pauses",
  description: "The contact's messages are still stored, but no model is asked and turns answer with `reply: null` until the conversation is released.",
  tags,
  ...authed("chatbot:write"),
  request,
  responses: { 200: jsonResponse(Conversation, "The conversation, mode human"), ...problemResponses },
});

const replyRoute = createRoute({
  method: "post",
  path: `${path}/reply`,
  summary: "Reply to the contact as a person (the conversation must be taken over)",
  tags,
  ...authed("chatbot:write"),
  request: { ...request, ...jsonBody(StaffReplyBody) },
  responses: { 200: jsonResponse(ConversationDetail, "The conversation with the reply"), ...problemResponses },
});

const releaseRoute = createRoute({
  method: "post",
  path: `${path}/release`,
  summary: "Hand the conversation back to the bot",
  tags,
  ...authed("chatbot:write"),
  request,
  responses: { 200: jsonResponse(Conversation, "The conversation, mode bot"), ...problemResponses },
});

const historyRoute = createRoute({
  method: "get",
  path: "/v1/chatbot/contacts/{contact_id}/history",
  summary: "A contact's messages across conversations",
  tags,
  ...authed("chatbot:read"),
  request: { params: ContactIdParam },
  responses: { 200: jsonResponse(ContactHistory, "The contact's messages, oldest first"), ...problemResponses },
});

const deleteHistoryRoute = createRoute({
  method: "delete",
  path: "/v1/chatbot/contacts/{contact_id}/history",
  summary: "Delete every conversation with a contact",
  tags,
  ...authed("chatbot:write"),
  request: { params: ContactIdParam },
  responses: { 204: { description: "Deleted" }, ...problemResponses },
});

export const salesConversationRoutes = createRouter()
  .openapi(listRoute, async (c) => c.json(await listConversations(c.var.ctx, c.req.valid("query")), 200))
  .openapi(createRouteSpec, async (c) => c.json(await createConversation(c.var.ctx, c.req.valid("json")), 201))
  .openapi(getRoute, async (c) => c.json(await getConversation(c.var.ctx, c.req.valid("param").conversation_id), 200))
  .openapi(patchRoute, async (c) => c.json(await renameConversation(c.var.ctx, c.req.valid("param").conversation_id, c.req.valid("json").title), 200))
  .openapi(deleteRouteSpec, async (c) => {
    await deleteConversation(c.var.ctx, c.req.valid("param").conversation_id);
    return c.body(null, 204);
  })
  .openapi(takeoverRoute, async (c) => c.json(await takeOverConversation(c.var.ctx, c.req.valid("param").conversation_id), 200))
  .openapi(replyRoute, async (c) => c.json(await staffReply(c.var.ctx, c.req.valid("param").conversation_id, c.req.valid("json").content), 200))
  .openapi(releaseRoute, async (c) => c.json(await releaseConversation(c.var.ctx, c.req.valid("param").conversation_id), 200))
  .openapi(historyRoute, async (c) => c.json(await contactHistory(c.var.ctx, c.req.valid("param").contact_id), 200))
  .openapi(deleteHistoryRoute, async (c) => {
    await deleteContactHistory(c.var.ctx, c.req.valid("param").contact_id);
    return c.body(null, 204);
  });
