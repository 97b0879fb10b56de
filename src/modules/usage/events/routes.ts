import { createRoute } from "@hono/zod-openapi";
import { createRouter, jsonBody, jsonResponse, problemResponses } from "../../../lib/openapi";
import { authed } from "../../identity/auth/route-security";
import { AgentIdParam } from "../agents/schemas";
import { ActivityEventBody, BatchEvent, CostEventBody, EventBatchBody, EventBatchResult, INGEST_RULES, OutcomeEventBody, RecordedEvent } from "./schemas";
import { ingestEventBatch, recordAgentEvent } from "./service";

const tags = ["Agent events"];
const ONE_EVENT =
  "201 when stored, 200 with status `duplicate` when an event with this id was already stored. " +
  "404: no such agent; 409: the agent is archived; 422: a bad field, `occurred_at` in the future or in a closed invoice period.";

/** What the three one-event routes share; each adds its path, summary and body. */
const oneEvent = {
  method: "post",
  description: [ONE_EVENT, INGEST_RULES].join("\n\n"),
  tags,
  ...authed("events:write"),
  responses: {
    201: jsonResponse(RecordedEvent, "The event was stored"),
    200: jsonResponse(RecordedEvent, "An event with this id was already stored; nothing changed"),
    ...problemResponses,
  },
} as const;

const recordActivityRoute = createRoute({
  ...oneEvent,
  path: "/v1/agents/{id}/activities",
  summary: "Record one activity of an agent",
  request: { params: AgentIdParam, ...jsonBody(ActivityEventBody) },
});

const recordCostRoute = createRoute({
  ...oneEvent,
  path: "/v1/agents/{id}/costs",
  summary: "Record one cost of an agent",
  request: { params: AgentIdParam, ...jsonBody(CostEventBody) },
});

const recordOutcomeRoute = createRoute({
  ...oneEvent,
  path: "/v1/agents/{id}/outcomes",
  summary: "Record one outcome of an agent",
  request: { params: AgentIdParam, ...jsonBody(OutcomeEventBody) },
});

const ingestBatchRoute = createRoute({
  method: "post",
  path: "/v1/events",
  summary: "Record up to 1,000 events of any agents and kinds at once",
  description: [
    "Each event is checked on its own: the answer counts those stored (`accepted`) and those already stored (`duplicates`), " +
      "and lists the refused ones by position with every reason. One bad event never refuses the batch; only a body " +
      "without an `events` array of 1 to 1,000 items is a 422.",
    INGEST_RULES,
  ].join("\n\n"),
  tags,
  ...authed("events:write"),
  request: jsonBody(EventBatchBody),
  responses: { 200: jsonResponse(EventBatchResult, "What happened to each event"), ...problemResponses },
});

const recorded = (status: "accepted" | "duplicate") => (status === "accepted" ? 201 : 200);

export const eventsRoutes = createRouter()
  .openapi(recordActivityRoute, async (c) => {
    const result = await recordAgentEvent(c.var.ctx, c.req.valid("param").id, { kind: "activity", ...c.req.valid("json") });
    return c.json(result, recorded(result.status));
  })
  .openapi(recordCostRoute, async (c) => {
    const result = await recordAgentEvent(c.var.ctx, c.req.valid("param").id, { kind: "cost", ...c.req.valid("json") });
    return c.json(result, recorded(result.status));
  })
  .openapi(recordOutcomeRoute, async (c) => {
    const result = await recordAgentEvent(c.var.ctx, c.req.valid("param").id, { kind: "outcome", ...c.req.valid("json") });
    return c.json(result, recorded(result.status));
  })
  .openapi(ingestBatchRoute, async (c) => c.json(await ingestEventBatch(c.var.ctx, c.req.valid("json").events), 200));

// Batch items are typed `unknown` in the request schema (see EventBatchBody); this puts the
// schema they are checked against into the document for the `$ref` to point at.
eventsRoutes.openAPIRegistry.register("BatchEvent", BatchEvent);
