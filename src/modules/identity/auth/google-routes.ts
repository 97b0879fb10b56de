import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../../../lib/context";
import { createRouter, problem, problemResponses } from "../../../lib/openapi";
import { exchangeLoginCode, finishGoogleSignIn, startGoogleSignIn } from "./google";
import { rateLimitByIp } from "./middleware";
import { AuthResult } from "./schemas";

const GoogleLoginQuery = z
  .object({
    redirect: z.url().max(2000).openapi({
      description: "Where the app wants the person back; its origin must be listed in OAUTH_REDIRECT_ORIGINS",
      example: "https://app.billx.dev/auth/google",
    }),
  })
  .openapi("GoogleLoginQuery");

const GoogleCallbackQuery = z
  .object({
    state: z.string().min(1).max(200).openapi({ description: "The state this API sent to Google", example: "q3V1dGJ2cGx0aGVyZQ" }),
    code: z.string().min(1).max(2048).optional().openapi({ description: "Google's authorization code", example: "4/0AanRRrt" }),
    error: z.string().min(1).max(200).optional().openapi({ description: "Google's error when the person declined", example: "access_denied" }),
  })
  .openapi("GoogleCallbackQuery");

const LoginCodeBody = z
  .object({
    code: z.string().min(1).max(200).openapi({ description: "The one-time code the app received after Google sign-in", example: "lc_Q2hhbmdlIG1lIQ" }),
  })
  .openapi("LoginCodeExchangeRequest");

const redirectTo = (description: string) => ({
  description,
  headers: z.object({
    Location: z.string().openapi({ description: "Where the browser goes next", example: "https://app.billx.dev/auth/google?code=lc_Q2hh" }),
  }),
});
const upstreamProblems = { 502: problem("Google failed or answered something unusable"), 503: problem("Google sign-in is not configured") };
const googleAuth = { tags: ["Auth"], middleware: [rateLimitByIp] };

const googleLoginRoute = createRoute({
  method: "get",
  path: "/v1/auth/google/login",
  summary: "Start signing in with Google: redirects the browser to Google",
  ...googleAuth,
  request: { query: GoogleLoginQuery },
  responses: { 302: redirectTo("To Google's consent page"), ...problemResponses, ...upstreamProblems },
});

const googleCallbackRoute = createRoute({
  method: "get",
  path: "/v1/auth/google/callback",
  summary: "Where Google sends the browser back; redirects to the app with a one-time login code",
  ...googleAuth,
  request: { query: GoogleCallbackQuery },
  responses: { 302: redirectTo("To the app, with `?code=` (or `?error=` when the person declined)"), ...problemResponses, ...upstreamProblems },
});

const googleExchangeRoute = createRoute({
  method: "post",
  path: "/v1/auth/google/exchange",
  summary: "Trade the one-time login code for tokens (each code works once, for 60 seconds)",
  ...googleAuth,
  request: { body: { required: true, content: { "application/json": { schema: LoginCodeBody } } } },
  responses: { 200: { description: "Signed in", content: { "application/json": { schema: AuthResult } } }, ...problemResponses },
});

/** Google must send the browser back to exactly the URL the flow started with: this API's own origin. */
const callbackUrl = (c: Context<AppEnv>) => `${new URL(c.req.url).origin}${googleCallbackRoute.path}`;

export const googleAuthRoutes = createRouter()
  .openapi(googleLoginRoute, async (c) => {
    const location = await startGoogleSignIn(c.var.ctx, { redirect: c.req.valid("query").redirect, callbackUrl: callbackUrl(c) });
    c.header("Cache-Control", "no-store");
    return c.redirect(location, 302);
  })
  .openapi(googleCallbackRoute, async (c) => {
    const location = await finishGoogleSignIn(c.var.ctx, { ...c.req.valid("query"), callbackUrl: callbackUrl(c) });
    c.header("Cache-Control", "no-store");
    return c.redirect(location, 302);
  })
  .openapi(googleExchangeRoute, async (c) => {
    c.header("Cache-Control", "no-store");
    return c.json(await exchangeLoginCode(c.var.ctx, c.req.valid("json").code), 200);
  });
