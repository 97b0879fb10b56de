import { createRoute } from "@hono/zod-openapi";
import { createRouter, jsonResponse, problemResponses } from "../../../lib/openapi";
import { authed } from "../../identity/auth/route-security";
import { CallIdParam, CallList, CallListQuery, CallSchema } from "./schemas";
import { getCall, listCalls } from "./service";

const tags = ["Phone calls"];

const listCallsRoute = createRoute({
  tags,
  method: "get",
  path: "/v1/calls",
  summary: "The organisation's phone calls, newest first; filter by assistant, status and start dates",
  ...authed("calls:read"),
  request: { query: CallListQuery },
  responses: { 200: jsonResponse(CallList, "A page of calls"), ...problemResponses },
});

const getCallRoute = createRoute({
  tags,
  method: "get",
  path: "/v1/calls/{id}",
  summary: "One call with its transcript, usage and cost",
  ...authed("calls:read"),
  request: { params: CallIdParam },
  responses: { 200: jsonResponse(CallSchema, "The call"), ...problemResponses },
});

export const callRecordsRoutes = createRouter()
  .openapi(listCallsRoute, async (c) => c.json(await listCalls(c.var.ctx, c.req.valid("query")), 200))
  .openapi(getCallRoute, async (c) => c.json(await getCall(c.var.ctx, c.req.valid("param").id), 200));
