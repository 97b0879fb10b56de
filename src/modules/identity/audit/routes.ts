import { createRoute } from "@hono/zod-openapi";
import { createRouter, problemResponses } from "../../../lib/openapi";
import { authed } from "../auth/route-security";
import { AuditEventList, AuditQuery } from "./schemas";
import { listAuditEvents } from "./service";

const listAuditEventsRoute = createRoute({
  method: "get",
  path: "/v1/audit-events",
  summary: "The organisation's audit trail, newest first",
  tags: ["Audit"],
  ...authed("audit:read"),
  request: { query: AuditQuery },
  responses: { 200: { description: "A page of events", content: { "application/json": { schema: AuditEventList } } }, ...problemResponses },
});

export const auditRoutes = createRouter().openapi(listAuditEventsRoute, async (c) => c.json(await listAuditEvents(c.var.ctx, c.req.valid("query")), 200));
