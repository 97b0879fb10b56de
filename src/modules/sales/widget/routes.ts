import { createRoute, z } from "@hono/zod-openapi";
import { cors } from "hono/cors";
import { NotFound } from "../../../lib/errors";
import { createRouter, jsonBody, jsonResponse, problemResponses } from "../../../lib/openapi";
import { enforceRateLimit } from "../../identity/auth/middleware";
import { systemActor } from "../../identity/auth/principal";
import { authed } from "../../identity/auth/route-security";
import { streamSalesTurn } from "../chat/stream-turn";
import { getConversation, getConversationRow } from "../conversations/service";
import { ensureChatCredits } from "../settings/service";
import { createPublishableKey, listPublishableKeys, resolvePublishableKey, revokePublishableKey } from "./keys";
import {
  CreatePublishableKeyBody,
  PublishableKey,
  PublishableKeyHeader,
  PublishableKeyIdParam,
  PublishableKeyList,
  PublishableKeyListQuery,
  WidgetConversation,
  WidgetConversationParam,
  WidgetConversationQuery,
  WidgetTurnBody,
} from "./schemas";
import { WIDGET_SCRIPT } from "./script";

const tags = ["Chatbot"];

const createKeyRoute = createRoute({
  method: "post",
  path: "/v1/chatbot/publishable-keys",
  summary: "Create a publishable key for the chat widget on your sites",
  tags,
  ...authed("chatbot:write"),
  request: jsonBody(CreatePublishableKeyBody),
  responses: { 201: jsonResponse(PublishableKey, "The key"), ...problemResponses },
});

const listKeysRoute = createRoute({
  method: "get",
  path: "/v1/chatbot/publishable-keys",
  summary: "The widget's publishable keys",
  tags,
  ...authed("chatbot:read"),
  request: { query: PublishableKeyListQuery },
  responses: { 200: jsonResponse(PublishableKeyList, "A page of keys"), ...problemResponses },
});

const revokeKeyRoute = createRoute({
  method: "delete",
  path: "/v1/chatbot/publishable-keys/{key_id}",
  summary: "Revoke a publishable key (the widget using it stops at once)",
  tags,
  ...authed("chatbot:write"),
  request: { params: PublishableKeyIdParam },
  responses: { 204: { description: "Revoked" }, ...problemResponses },
});

const widgetChatRoute = createRoute({
  method: "post",
  path: "/v1/widget/chat/stream",
  summary: "A website visitor's turn, for the chat widget",
  description:
    "Authenticated by the site's publishable key (`X-Publishable-Key`) from one of its allowed origins, rate-limited per IP and per visitor. " +
    "A visitor continues only their own conversations (`contact_id` is the widget's visitor id). The events are those of `POST /v1/chatbot/chat/stream`.",
  tags,
  security: [],
  request: { headers: PublishableKeyHeader, ...jsonBody(WidgetTurnBody) },
  responses: {
    200: {
      description: "The turn as Server-Sent Events",
      content: { "text/event-stream": { schema: z.string().openapi({ example: 'event: content\ndata: {"delta":"Hi"}\n\n' }) } },
    },
    ...problemResponses,
  },
});

const widgetConversationRoute = createRoute({
  method: "get",
  path: "/v1/widget/conversations/{conversation_id}",
  summary: "A website visitor's own conversation, for the widget to show replies staff wrote",
  tags,
  security: [],
  request: { headers: PublishableKeyHeader, params: WidgetConversationParam, query: WidgetConversationQuery },
  responses: { 200: jsonResponse(WidgetConversation, "The conversation's messages"), ...problemResponses },
});

// The page's origin is checked against the key's list when the POST arrives; a preflight only
// learns that the POST may be sent (the app-wide CORS list is for the staff dashboard).
const widgetCors = cors({ origin: (origin) => origin, allowMethods: ["GET", "POST"], allowHeaders: ["Content-Type", "X-Publishable-Key"], maxAge: 600 });

export const salesWidgetRoutes = createRouter();

salesWidgetRoutes.use("/v1/widget/*", widgetCors);

salesWidgetRoutes.get("/widget.js", (c) =>
  c.body(WIDGET_SCRIPT, 200, { "Content-Type": "application/javascript; charset=utf-8", "Cache-Control": "public, max-age=3600" }),
);

salesWidgetRoutes
  .openapi(createKeyRoute, async (c) => c.json(await createPublishableKey(c.var.ctx, c.req.valid("json")), 201))
  .openapi(listKeysRoute, async (c) => c.json(await listPublishableKeys(c.var.ctx, c.req.valid("query")), 200))
  .openapi(revokeKeyRoute, async (c) => {
    await revokePublishableKey(c.var.ctx, c.req.valid("param").key_id);
    return c.body(null, 204);
  })
  .openapi(widgetConversationRoute, async (c) => {
    const ctx = c.var.ctx;
    const widget = await resolvePublishableKey(ctx, c.req.valid("header")["x-publishable-key"], c.req.header("Origin"));
    await enforceRateLimit(c.env.RATE_LIMIT_API, `widget-ip:${widget.id}:${ctx.request.ip ?? "unknown"}`);
    ctx.actor = systemActor(widget.orgId, ["chatbot:read"]);
    const { conversation_id } = c.req.valid("param");
    const detail = await getConversation(ctx, conversation_id);
    if (detail.contact_id !== c.req.valid("query").contact_id) throw new NotFound("conversation", conversation_id);
    return c.json({ conversation_id, mode: detail.mode, messages: detail.messages.map(({ role, content, at }) => ({ role, content, at })) }, 200);
  })
  .openapi(widgetChatRoute, async (c) => {
    const ctx = c.var.ctx;
    const widget = await resolvePublishableKey(ctx, c.req.valid("header")["x-publishable-key"], c.req.header("Origin"));
    const body = c.req.valid("json");
    await enforceRateLimit(c.env.RATE_LIMIT_API, `widget-ip:${widget.id}:${ctx.request.ip ?? "unknown"}`);
    await enforceRateLimit(c.env.RATE_LIMIT_AUTH, `widget-contact:${widget.id}:${body.contact_id}`);
    // The visitor acts as the bot's own work for the organisation: chatting, nothing else.
    ctx.actor = systemActor(widget.orgId, ["chatbot:write"]);
    if (body.conversation_id) {
      const row = await getConversationRow(ctx, widget.orgId, body.conversation_id);
      // Another visitor's conversation does not exist for this one.
      if (row.contactId !== body.contact_id) throw new NotFound("conversation", body.conversation_id);
    }
    await ensureChatCredits(ctx, widget.orgId);
    const turn = { orgId: widget.orgId, channel: "web" as const, contactId: body.contact_id, message: body.message };
    return streamSalesTurn(
      c,
      { ...turn, ...(body.conversation_id ? { conversationId: body.conversation_id } : {}), ...(body.history ? { history: body.history } : {}) },
      { showCost: false },
    );
  });
