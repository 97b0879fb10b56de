import { createRoute } from "@hono/zod-openapi";
import { createRouter, jsonBody, jsonResponse, problemResponses } from "../../../lib/openapi";
import { rateLimitByIp } from "./middleware";
import { sendOtp, verifyOtp } from "./otp";
import { confirmPasswordReset, requestPasswordReset } from "./password-reset";
import { Accepted, OtpSendBody, OtpVerifyBody, PasswordResetConfirmBody, PasswordResetRequestBody } from "./recovery-schemas";
import { AuthResult } from "./schemas";

const publicAuth = { tags: ["Auth"], middleware: [rateLimitByIp] };

const sendOtpRoute = createRoute({
  method: "post",
  path: "/v1/auth/otp/send",
  summary: "Send a 6-digit sign-in code by email or SMS",
  description:
    "Always answers 202, whether or not an account exists. A recipient gets at most 3 codes per 10 minutes; further requests answer the same 202 and send nothing. Only the newest code counts.",
  ...publicAuth,
  request: jsonBody(OtpSendBody),
  responses: { 202: jsonResponse(Accepted, "Accepted; a code is on its way if the account exists"), ...problemResponses },
});

const verifyOtpRoute = createRoute({
  method: "post",
  path: "/v1/auth/otp/verify",
  summary: "Sign in with a code from /v1/auth/otp/send",
  description:
    "A code is valid 10 minutes and for 5 tries, right or wrong. Wrong, expired, used or exhausted codes and unknown recipients all answer the same 401.",
  ...publicAuth,
  request: jsonBody(OtpVerifyBody),
  responses: { 200: jsonResponse(AuthResult, "Signed in"), ...problemResponses },
});

const requestPasswordResetRoute = createRoute({
  method: "post",
  path: "/v1/auth/password-reset/request",
  summary: "Email a password reset link (valid 30 minutes, single use)",
  description: "Always answers 202, whether or not an account exists. An account gets at most 3 reset emails per 30 minutes.",
  ...publicAuth,
  request: jsonBody(PasswordResetRequestBody),
  responses: { 202: jsonResponse(Accepted, "Accepted; a link is on its way if the account exists"), ...problemResponses },
});

const confirmPasswordResetRoute = createRoute({
  method: "post",
  path: "/v1/auth/password-reset/confirm",
  summary: "Set a new password with the token from the reset link",
  description: "Ends every session of the account. A bad, expired or used token answers 400; a weak password answers 422 on `password`.",
  ...publicAuth,
  request: jsonBody(PasswordResetConfirmBody),
  responses: { 204: { description: "Password changed; every session signed out" }, ...problemResponses },
});

export const recoveryRoutes = createRouter()
  .openapi(sendOtpRoute, async (c) => {
    await sendOtp(c.var.ctx, c.req.valid("json"));
    return c.json({ status: "sent" as const }, 202);
  })
  .openapi(verifyOtpRoute, async (c) => c.json(await verifyOtp(c.var.ctx, c.req.valid("json")), 200))
  .openapi(requestPasswordResetRoute, async (c) => {
    await requestPasswordReset(c.var.ctx, c.req.valid("json"));
    return c.json({ status: "sent" as const }, 202);
  })
  .openapi(confirmPasswordResetRoute, async (c) => {
    await confirmPasswordReset(c.var.ctx, c.req.valid("json"));
    return c.body(null, 204);
  });
