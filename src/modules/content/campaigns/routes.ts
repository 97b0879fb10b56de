import { createRoute } from "@hono/zod-openapi";
import { createRouter, jsonBody, jsonResponse, problemResponses } from "../../../lib/openapi";
import { authed } from "../../identity/auth/route-security";
import { CampaignIdParam, CampaignList, CampaignListQuery, CampaignSchema, CreateCampaignBody } from "./schemas";
import { cancelCampaign, createCampaign, getCampaign, listCampaigns, startCampaign } from "./service";

const tags = ["Campaigns"];

const createCampaignRoute = createRoute({
  tags,
  method: "post",
  path: "/v1/campaigns",
  summary: "Send an offer to a group of customers, now or at `send_at`",
  description:
    "One message per customer of the audience through the outbound queue; customers who opted out of marketing (STOP) and those without a phone or email for the channel are skipped. Each customer gets one message per campaign however often it is started.",
  ...authed("campaigns:send"),
  request: jsonBody(CreateCampaignBody),
  responses: { 201: jsonResponse(CampaignSchema, "Created (and started unless scheduled)"), ...problemResponses },
});

const listCampaignsRoute = createRoute({
  tags,
  method: "get",
  path: "/v1/campaigns",
  summary: "The organisation's campaigns, newest first",
  ...authed("campaigns:read"),
  request: { query: CampaignListQuery },
  responses: { 200: jsonResponse(CampaignList, "A page"), ...problemResponses },
});

const getCampaignRoute = createRoute({
  tags,
  method: "get",
  path: "/v1/campaigns/{id}",
  summary: "A campaign with counts from its messages' statuses",
  ...authed("campaigns:read"),
  request: { params: CampaignIdParam },
  responses: { 200: jsonResponse(CampaignSchema, "The campaign"), ...problemResponses },
});

const startCampaignRoute = createRoute({
  tags,
  method: "post",
  path: "/v1/campaigns/{id}/start",
  summary: "Send a scheduled campaign now (again is harmless: nobody is messaged twice)",
  ...authed("campaigns:send"),
  request: { params: CampaignIdParam },
  responses: { 200: jsonResponse(CampaignSchema, "Sending or sent"), ...problemResponses },
});

const cancelCampaignRoute = createRoute({
  tags,
  method: "post",
  path: "/v1/campaigns/{id}/cancel",
  summary: "Cancel a campaign before it starts",
  ...authed("campaigns:send"),
  request: { params: CampaignIdParam },
  responses: { 200: jsonResponse(CampaignSchema, "Cancelled"), ...problemResponses },
});

export const campaignsRoutes = createRouter()
  .openapi(createCampaignRoute, async (c) => c.json(await createCampaign(c.var.ctx, c.req.valid("json")), 201))
  .openapi(listCampaignsRoute, async (c) => c.json(await listCampaigns(c.var.ctx, c.req.valid("query")), 200))
  .openapi(getCampaignRoute, async (c) => c.json(await getCampaign(c.var.ctx, c.req.valid("param").id), 200))
  .openapi(startCampaignRoute, async (c) => c.json(await startCampaign(c.var.ctx, c.req.valid("param").id), 200))
  .openapi(cancelCampaignRoute, async (c) => c.json(await cancelCampaign(c.var.ctx, c.req.valid("param").id), 200));
