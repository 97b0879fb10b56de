import { createRoute } from "@hono/zod-openapi";
import { createRouter, jsonBody, jsonResponse, problem, problemResponses } from "../../../lib/openapi";
import { authed } from "../../identity/auth/route-security";
import { placeOutboundCall } from "./outbound";
import { CallIdParam, CallList, CallListQuery, CallSchema, PlaceCallBody } from "./schemas";
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

const placeCallRoute = createRoute({
  tags,
  method: "post",
  path: "/v1/calls",
  summary: "Have an assistant call someone (Twilio Calls API), on the same media stream as inbound calls",
  description:
    "Calls `to` from the assistant's first number. The credits for a two-minute call are held first (402 when short; Twilio is not asked). 422 when the assistant has no number.",
  ...authed("calls:write"),
  request: jsonBody(PlaceCallBody),
  responses: { 201: jsonResponse(CallSchema, "The call, queued"), 402: problem("Not enough credits for a minimum call"), ...problemResponses },
});

export const callRecordsRoutes = createRouter()
  .openapi(placeCallRoute, async (c) => c.json(await placeOutboundCall(c.var.ctx, c.req.valid("json")), 201))
  .openapi(listCallsRoute, async (c) => c.json(await listCalls(c.var.ctx, c.req.valid("query")), 200))
  .openapi(getCallRoute, async (c) => c.json(await getCall(c.var.ctx, c.req.valid("param").id), 200));
