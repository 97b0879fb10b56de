import { createRoute } from "@hono/zod-openapi";
import { requestFingerprint } from "../../../lib/idempotency";
import { createRouter, idempotencyHeader, jsonBody, jsonResponse, problemResponses } from "../../../lib/openapi";
import { authed } from "../../identity/auth/route-security";
import {
  BookingIdParam,
  BookingList,
  BookingListQuery,
  BookingSchema,
  CancelBookingBody,
  CreateBookingBody,
  DaySlotsSchema,
  RescheduleBookingBody,
  SlotRangeSchema,
  SlotsQuery,
} from "../bookings/schemas";
import { cancelBooking, createBooking, getAvailability, getBooking, listBookings, rescheduleBooking } from "../bookings/service";
import { AssistantIdParam, AssistantList, AssistantListQuery, AssistantSchema, CreateAssistantBody, UpdateAssistantBody } from "./schemas";
import { archiveAssistant, createAssistant, createAssistantOnce, getAssistant, listAssistants, updateAssistant } from "./service";

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
    "Either the full fields or the shorthand (`receptionist_name`, `start_time` + `end_time` + `available_days`, `booking_duration_minutes`); both for the same field is a 422. `voice_type` male/female picks a default voice. `database_id` must be a linked database of the organisation (422 otherwise). With `Idempotency-Key` a retry answers 200 with the first assistant (racing retries create one); the same key with a different body is a 409.",
  ...authed("assistants:write"),
  request: { headers: idempotencyHeader("the first assistant back instead of a second one", "ast-create-7f3a"), ...jsonBody(CreateAssistantBody) },
  responses: {
    201: jsonResponse(AssistantSchema, "The new assistant"),
    200: jsonResponse(AssistantSchema, "A repeat of an earlier request with this Idempotency-Key"),
    ...problemResponses,
  },
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

const createBookingRoute = createRoute({
  tags,
  method: "post",
  path: "/v1/assistants/{id}/bookings",
  summary: "Book one or more consecutive slots of an assistant",
  description:
    "`start` is one of the slots' `times[].start`. A start the rules refuse (past, inside the notice, outside hours, closed date, beyond the horizon, off the slot grid) is a 422 on `start`; a time overlapping a confirmed booking is a 409 naming it (the database refuses overlaps, so racing requests get one booking). With `Idempotency-Key` a retry answers the first booking; the same key for a different booking is a 409.",
  ...authed("assistants:write"),
  request: {
    params: AssistantIdParam,
    headers: idempotencyHeader("the first booking back instead of a second one", "book-7f3a9c"),
    ...jsonBody(CreateBookingBody),
  },
  responses: { 201: jsonResponse(BookingSchema, "The booking"), ...problemResponses },
});

const listBookingsRoute = createRoute({
  tags,
  method: "get",
  path: "/v1/assistants/{id}/bookings",
  summary: "An assistant's bookings; filter by status and by local start dates",
  ...authed("assistants:read"),
  request: { params: AssistantIdParam, query: BookingListQuery },
  responses: { 200: jsonResponse(BookingList, "A page of bookings"), ...problemResponses },
});

const getBookingRoute = createRoute({
  tags,
  method: "get",
  path: "/v1/assistants/{id}/bookings/{booking_id}",
  summary: "One booking",
  ...authed("assistants:read"),
  request: { params: BookingIdParam },
  responses: { 200: jsonResponse(BookingSchema, "The booking"), ...problemResponses },
});

const cancelBookingRoute = createRoute({
  tags,
  method: "post",
  path: "/v1/assistants/{id}/bookings/{booking_id}/cancel",
  summary: "Cancel a booking and free its slots (cancelling again answers the booking)",
  ...authed("assistants:write"),
  // The body is optional: a bare POST cancels and tells the customer the default way.
  request: { params: BookingIdParam, body: { required: false, content: { "application/json": { schema: CancelBookingBody } } } },
  responses: { 200: jsonResponse(BookingSchema, "The cancelled booking"), ...problemResponses },
});

const rescheduleBookingRoute = createRoute({
  tags,
  method: "post",
  path: "/v1/assistants/{id}/bookings/{booking_id}/reschedule",
  summary: "Move a confirmed booking to another start in one step (the old time is freed only if the new one is taken)",
  ...authed("assistants:write"),
  request: { params: BookingIdParam, ...jsonBody(RescheduleBookingBody) },
  responses: { 200: jsonResponse(BookingSchema, "The moved booking"), ...problemResponses },
});

export const assistantsRoutes = createRouter()
  .openapi(listAssistantsRoute, async (c) => c.json(await listAssistants(c.var.ctx, c.req.valid("query")), 200))
  .openapi(createAssistantRoute, async (c) => {
    const input = c.req.valid("json");
    const key = c.req.valid("header")["idempotency-key"];
    if (!key) return c.json(await createAssistant(c.var.ctx, input), 201);
    const request = { key: `create:${key}`, fingerprint: await requestFingerprint(input) };
    const { assistant, replayed } = await createAssistantOnce(c.var.ctx, input, request);
    return c.json(assistant, replayed ? 200 : 201);
  })
  .openapi(getAssistantRoute, async (c) => c.json(await getAssistant(c.var.ctx, c.req.valid("param").id), 200))
  .openapi(updateAssistantRoute, async (c) => c.json(await updateAssistant(c.var.ctx, c.req.valid("param").id, c.req.valid("json")), 200))
  .openapi(getSlotsRoute, async (c) => c.json(await getAvailability(c.var.ctx, c.req.valid("param").id, c.req.valid("query")), 200))
  .openapi(createBookingRoute, async (c) => {
    const key = c.req.valid("header")["idempotency-key"];
    return c.json(await createBooking(c.var.ctx, c.req.valid("param").id, c.req.valid("json"), { source: "api", idempotencyKey: key }), 201);
  })
  .openapi(listBookingsRoute, async (c) => c.json(await listBookings(c.var.ctx, c.req.valid("param").id, c.req.valid("query")), 200))
  .openapi(getBookingRoute, async (c) => {
    const { id, booking_id } = c.req.valid("param");
    return c.json(await getBooking(c.var.ctx, id, booking_id), 200);
  })
  .openapi(cancelBookingRoute, async (c) => {
    const { id, booking_id } = c.req.valid("param");
    return c.json(await cancelBooking(c.var.ctx, id, booking_id, { notify: c.req.valid("json").notify }), 200);
  })
  .openapi(rescheduleBookingRoute, async (c) => {
    const { id, booking_id } = c.req.valid("param");
    return c.json(await rescheduleBooking(c.var.ctx, id, booking_id, c.req.valid("json")), 200);
  })
  .openapi(archiveAssistantRoute, async (c) => {
    await archiveAssistant(c.var.ctx, c.req.valid("param").id);
    return c.body(null, 204);
  });
