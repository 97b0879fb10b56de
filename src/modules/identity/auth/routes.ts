import { createRoute } from "@hono/zod-openapi";
import { createRouter, jsonBody, jsonResponse, problemResponses } from "../../../lib/openapi";
import { rateLimitByIp } from "./middleware";
import { authed } from "./route-security";
import { AuthResult, Jwks, Me, RefreshBody, SignInBody, SignUpBody, TokenPair } from "./schemas";
import { logout, me, refresh, signIn, signUp } from "./service";
import { publicJwks } from "./tokens";

const publicAuth = { tags: ["Auth"], middleware: [rateLimitByIp] };

const signUpRoute = createRoute({
  method: "post",
  path: "/v1/auth/sign-up",
  summary: "Create an account and its own organisation",
  ...publicAuth,
  request: jsonBody(SignUpBody),
  responses: { 201: jsonResponse(AuthResult, "Signed up and signed in"), ...problemResponses },
});

const signInRoute = createRoute({
  method: "post",
  path: "/v1/auth/sign-in",
  summary: "Sign in with email and password",
  ...publicAuth,
  request: jsonBody(SignInBody),
  responses: { 200: jsonResponse(AuthResult, "Signed in"), ...problemResponses },
});

const refreshRoute = createRoute({
  method: "post",
  path: "/v1/auth/refresh",
  summary: "Trade a refresh token for a new token pair (each refresh token works once)",
  ...publicAuth,
  request: jsonBody(RefreshBody),
  responses: { 200: jsonResponse(TokenPair, "New tokens"), ...problemResponses },
});

const logoutRoute = createRoute({
  method: "post",
  path: "/v1/auth/logout",
  summary: "End this session: its access and refresh tokens stop working",
  tags: ["Auth"],
  ...authed(),
  responses: { 204: { description: "Logged out" }, ...problemResponses },
});

const meRoute = createRoute({
  method: "get",
  path: "/v1/auth/me",
  summary: "The signed-in user and their organisations",
  tags: ["Auth"],
  ...authed(),
  responses: { 200: jsonResponse(Me, "The user"), ...problemResponses },
});

const jwksRoute = createRoute({
  method: "get",
  path: "/.well-known/jwks.json",
  summary: "Public keys that verify access tokens",
  tags: ["Auth"],
  responses: { 200: jsonResponse(Jwks, "JSON Web Key Set") },
});

export const authRoutes = createRouter()
  .openapi(signUpRoute, async (c) => c.json(await signUp(c.var.ctx, c.req.valid("json")), 201))
  .openapi(signInRoute, async (c) => c.json(await signIn(c.var.ctx, c.req.valid("json")), 200))
  .openapi(refreshRoute, async (c) => c.json(await refresh(c.var.ctx, c.req.valid("json").refresh_token), 200))
  .openapi(logoutRoute, async (c) => {
    await logout(c.var.ctx);
    return c.body(null, 204);
  })
  .openapi(meRoute, async (c) => c.json(await me(c.var.ctx), 200))
  .openapi(jwksRoute, (c) => {
    c.header("Cache-Control", "public, max-age=300");
    return c.json({ keys: publicJwks(c.var.ctx.config) as Record<string, unknown>[] }, 200);
  });
