import { createRoute } from "@hono/zod-openapi";
import { createRouter, jsonBody, jsonResponse, problemResponses } from "../../../lib/openapi";
import { authed } from "../auth/route-security";
import { ConfirmPhoneChangeBody, PhoneCodeSent, StartPhoneChangeBody, UserWithPhone } from "./schemas";
import { confirmPhoneChange, removePhone, startPhoneChange } from "./service";

const tags = ["Users"];

const startRoute = createRoute({
  method: "post",
  path: "/v1/users/me/phone",
  summary: "Text a code to a new phone number of yours",
  description: "The number is saved only once the code comes back to /v1/users/me/phone/verify. A number gets at most 3 codes per 10 minutes (429 after).",
  tags,
  ...authed(),
  request: jsonBody(StartPhoneChangeBody),
  responses: { 202: jsonResponse(PhoneCodeSent, "The code is on its way"), ...problemResponses },
});

const confirmRoute = createRoute({
  method: "post",
  path: "/v1/users/me/phone/verify",
  summary: "Save the phone number the code was texted to",
  description: "A wrong, expired or used code answers 422 on `code`; a number already on another account answers 409.",
  tags,
  ...authed(),
  request: jsonBody(ConfirmPhoneChangeBody),
  responses: { 200: jsonResponse(UserWithPhone, "You, with the verified number"), ...problemResponses },
});

const removeRoute = createRoute({
  method: "delete",
  path: "/v1/users/me/phone",
  summary: "Remove your phone number",
  tags,
  ...authed(),
  responses: { 204: { description: "Removed" }, ...problemResponses },
});

export const phoneRoutes = createRouter()
  .openapi(startRoute, async (c) => c.json(await startPhoneChange(c.var.ctx, c.req.valid("json").phone), 202))
  .openapi(confirmRoute, async (c) => c.json(await confirmPhoneChange(c.var.ctx, c.req.valid("json")), 200))
  .openapi(removeRoute, async (c) => {
    await removePhone(c.var.ctx);
    return c.body(null, 204);
  });
