import { createRoute } from "@hono/zod-openapi";
import { createRouter, jsonBody, jsonResponse, problemResponses } from "../../../lib/openapi";
import { authed } from "../../identity/auth/route-security";
import { DaySlotsSchema, SlotRangeSchema, SlotsQuery } from "../bookings/schemas";
import { getAvailability } from "../bookings/service";
import { AssistantIdParam, AssistantList, AssistantListQuery, AssistantSchema, CreateAssistantBody, UpdateAssistantBody } from "./schemas";
import { archiveAssistant, createAssistant, getAssistant, listAssistants, updateAssistant } from "./service";

const tags = ["Assistants"];

const listAssistantsRoute = createRoute({
  tags,
  method: "get",
  path: "/v1/assistants",
  summary: "List AI receptionists; search by name or business name",
  ...authed("assistants:read"),
  request: { query: AssistantListQuery },
  responses: { 200: jsonResponse(AssistantList, "A page of assistants"), ...problemResponses },
});

const createAssistantRoute = createRoute({
  tags,
  method: "post",
  path: "/v1/assistants",
  summary: "Add an AI receptionist (and the usage agent that meters it)",
  description:
    "Either the full fields or the shorthand (`receptionist_name`, `start_time` + `end_time` + `available_days`, `booking_duration_minutes`); both for the same field is a 422. `voice_type` male/female picks a default voice. `database_id` must be a linked database of the organisation (422 otherwise).",
  ...authed("assistants:write"),
  request: jsonBody(CreateAssistantBody),
  responses: { 201: jsonResponse(AssistantSchema, "The new assistant"), ...problemResponses },
});

const getAssistantRoute = createRoute({
  tags,
  method: "get",
  path: "/v1/assistants/{id}",
  summary: "One assistant",
  ...authed("assistants:read"),
  request: { params: AssistantIdParam },
  responses: { 200: jsonResponse(AssistantSchema, "The assistant"), ...problemResponses },
});

const updateAssistantRoute = createRoute({
  tags,
  method: "patch",
  path: "/v1/assistants/{id}",
  summary: "Change an assistant's details, hours, voice or tools",
  description: "Only the given fields change; `null` clears an optional one. A new name renames its agent.",
  ...authed("assistants:write"),
  request: { params: AssistantIdParam, ...jsonBody(UpdateAssistantBody) },
  responses: { 200: jsonResponse(AssistantSchema, "The updated assistant"), ...problemResponses },
});

const archiveAssistantRoute = createRoute({
  tags,
  method: "delete",
  path: "/v1/assistants/{id}",
  summary: "Archive an assistant and its agent: it answers no more calls; it stays readable",
  ...authed("assistants:write"),
  request: { params: AssistantIdParam },
  responses: { 204: { description: "Archived" }, ...problemResponses },
});

const getSlotsRoute = createRoute({
  tags,
  method: "get",
  path: "/v1/assistants/{id}/slots",
  summary: "Free booking slots of one day or of a range of days, in the assistant's timezone with UTC instants",
  description:
    "`date` (default today in the assistant's zone) answers one day; `from` + `to` (inclusive, at most 31 days) answer `{data: [day, ...]}`. Past slots, slots inside the minimum notice, days beyond the horizon and closed dates are not offered; daylight-saving gaps get no slots.",
  ...authed("assistants:read"),
  request: { params: AssistantIdParam, query: SlotsQuery },
  responses: { 200: jsonResponse(DaySlotsSchema.or(SlotRangeSchema), "The free slots"), ...problemResponses },
});

export const assistantsRoutes = createRouter()
  .openapi(listAssistantsRoute, async (c) => c.json(await listAssistants(c.var.ctx, c.req.valid("query")), 200))
  .openapi(createAssistantRoute, async (c) => c.json(await createAssistant(c.var.ctx, c.req.valid("json")), 201))
  .openapi(getAssistantRoute, async (c) => c.json(await getAssistant(c.var.ctx, c.req.valid("param").id), 200))
  .openapi(updateAssistantRoute, async (c) => c.json(await updateAssistant(c.var.ctx, c.req.valid("param").id, c.req.valid("json")), 200))
  .openapi(getSlotsRoute, async (c) => c.json(await getAvailability(c.var.ctx, c.req.valid("param").id, c.req.valid("query")), 200))
  .openapi(archiveAssistantRoute, async (c) => {
    await archiveAssistant(c.var.ctx, c.req.valid("param").id);
    return c.body(null, 204);
  });
