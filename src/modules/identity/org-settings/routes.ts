import { createRoute } from "@hono/zod-openapi";
import { createRouter, jsonBody, jsonResponse, problemResponses } from "../../../lib/openapi";
import { authed } from "../auth/route-security";
import { OrgSettings, UpdateOrgSettingsBody } from "./schemas";
import { getOrgSettings, updateOrgSettings } from "./service";

const tags = ["Organizations"];

const getSettingsRoute = createRoute({
  method: "get",
  path: "/v1/org/settings",
  summary: "The active organisation's settings, defaults filled in",
  tags,
  ...authed("org:read"),
  responses: { 200: jsonResponse(OrgSettings, "The settings"), ...problemResponses },
});

const updateSettingsRoute = createRoute({
  method: "patch",
  path: "/v1/org/settings",
  summary: "Change some of the active organisation's settings",
  description: "Only the fields given change; null puts one back to its default. Speech models and voice belong to `speech.provider`.",
  tags,
  ...authed("org:write"),
  request: jsonBody(UpdateOrgSettingsBody),
  responses: { 200: jsonResponse(OrgSettings, "The settings after the change"), ...problemResponses },
});

export const orgSettingsRoutes = createRouter()
  .openapi(getSettingsRoute, async (c) => c.json(await getOrgSettings(c.var.ctx), 200))
  .openapi(updateSettingsRoute, async (c) => c.json(await updateOrgSettings(c.var.ctx, c.req.valid("json")), 200));
