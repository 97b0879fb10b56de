import { createRoute } from "@hono/zod-openapi";
import { createRouter, jsonResponse, problemResponses } from "../../../lib/openapi";
import { requireOrgId } from "../../identity/auth/principal";
import { authed } from "../../identity/auth/route-security";
import { getMessage, listMessages, messageView } from "./queries";
import { IdempotencyHeader, Message, MessageIdParam, MessageList, MessageListQuery, SendMessageBody } from "./schemas";
import { sendMessage } from "./service";

const tags = ["Messages"];

const sendMessageRoute = createRoute({
  method: "post",
  path: "/v1/messages",
  summary: "Queue a message on a channel (SMS, WhatsApp, Telegram, email)",
  description:
    "Validated, written to the message log and delivered by the outbound queue. With `Idempotency-Key`, a repeat answers 200 with the first message.",
  tags,
  ...authed("messages:send"),
  request: { headers: IdempotencyHeader, body: { required: true, content: { "application/json": { schema: SendMessageBody } } } },
  responses: {
    201: jsonResponse(Message, "Queued"),
    200: jsonResponse(Message, "A repeat of an earlier request with this Idempotency-Key"),
    ...problemResponses,
  },
});

const listMessagesRoute = createRoute({
  method: "get",
  path: "/v1/messages",
  summary: "List the organisation's messages, newest first",
  tags,
  ...authed("messages:read"),
  request: { query: MessageListQuery },
  responses: { 200: jsonResponse(MessageList, "A page of messages"), ...problemResponses },
});

const getMessageRoute = createRoute({
  method: "get",
  path: "/v1/messages/{id}",
  summary: "One message and its delivery status",
  tags,
  ...authed("messages:read"),
  request: { params: MessageIdParam },
  responses: { 200: jsonResponse(Message, "The message"), ...problemResponses },
});

export const messagesRoutes = createRouter()
  .openapi(sendMessageRoute, async (c) => {
    const ctx = c.var.ctx;
    const body = c.req.valid("json");
    const { message, created } = await sendMessage(ctx, {
      orgId: requireOrgId(ctx),
      channel: body.channel,
      recipient: body.to,
      subject: body.subject,
      body: body.body,
      template: body.template,
      variables: body.variables,
      media: body.media_url ? { url: body.media_url } : undefined,
      idempotencyKey: c.req.valid("header")["idempotency-key"],
    });
    return c.json(messageView(message), created ? 201 : 200);
  })
  .openapi(listMessagesRoute, async (c) => c.json(await listMessages(c.var.ctx, c.req.valid("query")), 200))
  .openapi(getMessageRoute, async (c) => c.json(await getMessage(c.var.ctx, c.req.valid("param").id), 200));
