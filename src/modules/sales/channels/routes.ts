import { createRoute } from "@hono/zod-openapi";
import { createRouter, jsonBody, jsonResponse, problemResponses } from "../../../lib/openapi";
import { authed } from "../../identity/auth/route-security";
import { Channel, ChannelIdParam, ChannelList, ChannelListQuery, ConnectChannelBody } from "./schemas";
import { connectChannel, disconnectChannel, getChannel, listChannels } from "./service";

const tags = ["Channels"];

const connectChannelRoute = createRoute({
  method: "post",
  path: "/v1/channels",
  summary: "Connect a Telegram bot or a WhatsApp number to the sales chat",
  description:
    "Telegram: the token is checked with getMe and the bot's webhook is pointed at this API with a generated secret token. " +
    "WhatsApp: enter the returned `webhook_url` and your verify token in the Meta app's webhook settings. Credentials are sealed and never returned.",
  tags,
  ...authed("channels:write"),
  request: jsonBody(ConnectChannelBody),
  responses: { 201: jsonResponse(Channel, "The connected channel"), ...problemResponses },
});

const listChannelsRoute = createRoute({
  method: "get",
  path: "/v1/channels",
  summary: "List the connected channels, newest first",
  tags,
  ...authed("channels:read"),
  request: { query: ChannelListQuery },
  responses: { 200: jsonResponse(ChannelList, "A page of channels"), ...problemResponses },
});

const getChannelRoute = createRoute({
  method: "get",
  path: "/v1/channels/{id}",
  summary: "One connected channel",
  tags,
  ...authed("channels:read"),
  request: { params: ChannelIdParam },
  responses: { 200: jsonResponse(Channel, "The channel"), ...problemResponses },
});

const disconnectChannelRoute = createRoute({
  method: "delete",
  path: "/v1/channels/{id}",
  summary: "Disconnect a channel",
  description: "Telegram stops delivering to us (deleteWebhook); the credentials are dropped; waiting messages are skipped and queued replies fail.",
  tags,
  ...authed("channels:write"),
  request: { params: ChannelIdParam },
  responses: { 204: { description: "Disconnected" }, ...problemResponses },
});

export const salesChannelRoutes = createRouter()
  .openapi(connectChannelRoute, async (c) => c.json(await connectChannel(c.var.ctx, c.req.valid("json")), 201))
  .openapi(listChannelsRoute, async (c) => c.json(await listChannels(c.var.ctx, c.req.valid("query")), 200))
  .openapi(getChannelRoute, async (c) => c.json(await getChannel(c.var.ctx, c.req.valid("param").id), 200))
  .openapi(disconnectChannelRoute, async (c) => {
    await disconnectChannel(c.var.ctx, c.req.valid("param").id);
    return c.body(null, 204);
  });
