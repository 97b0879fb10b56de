import { createRoute } from "@hono/zod-openapi";
import { createRouter, jsonBody, jsonResponse, problemResponses } from "../../../lib/openapi";
import { AssistantIdParam } from "../../assistants/assistants/schemas";
import { authed } from "../../identity/auth/route-security";
import { AttachPhoneNumberBody, PhoneNumberIdParam, PhoneNumberList, PhoneNumberListQuery, PhoneNumberSchema } from "./schemas";
import { attachPhoneNumber, detachPhoneNumber, listPhoneNumbers } from "./service";

const tags = ["Phone calls"];

const attachPhoneNumberRoute = createRoute({
  tags,
  method: "post",
  path: "/v1/assistants/{id}/phone-numbers",
  summary: "Attach a Twilio number to an assistant (an owned one, or one bought in an area code)",
  description:
    "`phone_number` must be a number of the Twilio account (422 otherwise); `area_code` buys one there (422 when Twilio has none). Its VoiceUrl and StatusCallback are pointed at `/v1/voice/twilio/incoming` and `/v1/voice/twilio/status` under the public base URL. A number answers for one assistant only (409), and an organisation has as many numbers as its plan allows (403 `plan-limit`, see `GET /v1/plans`).",
  ...authed("assistants:write"),
  request: { params: AssistantIdParam, ...jsonBody(AttachPhoneNumberBody) },
  responses: { 201: jsonResponse(PhoneNumberSchema, "The attached number"), ...problemResponses },
});

const listPhoneNumbersRoute = createRoute({
  tags,
  method: "get",
  path: "/v1/assistants/{id}/phone-numbers",
  summary: "The numbers that ring an assistant",
  ...authed("assistants:read"),
  request: { params: AssistantIdParam, query: PhoneNumberListQuery },
  responses: { 200: jsonResponse(PhoneNumberList, "A page of numbers"), ...problemResponses },
});

const detachPhoneNumberRoute = createRoute({
  tags,
  method: "delete",
  path: "/v1/assistants/{id}/phone-numbers/{number_id}",
  summary: "Detach a number: it rings the assistant no more and its Twilio webhooks are cleared",
  ...authed("assistants:write"),
  request: { params: PhoneNumberIdParam },
  responses: { 204: { description: "Detached" }, ...problemResponses },
});

export const phoneNumbersRoutes = createRouter()
  .openapi(attachPhoneNumberRoute, async (c) => c.json(await attachPhoneNumber(c.var.ctx, c.req.valid("param").id, c.req.valid("json")), 201))
  .openapi(listPhoneNumbersRoute, async (c) => c.json(await listPhoneNumbers(c.var.ctx, c.req.valid("param").id, c.req.valid("query")), 200))
  .openapi(detachPhoneNumberRoute, async (c) => {
    const { id, number_id } = c.req.valid("param");
    await detachPhoneNumber(c.var.ctx, id, number_id);
    return c.body(null, 204);
  });
