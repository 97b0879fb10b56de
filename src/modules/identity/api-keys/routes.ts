import { createRoute } from "@hono/zod-openapi";
import { createRouter, jsonResponse, problemResponses } from "../../../lib/openapi";
import { authed } from "../auth/route-security";
import { ApiKeyIdParam, ApiKeyList, ApiKeyListQuery, CreateApiKeyBody, CreatedApiKey } from "./schemas";
import { createApiKey, listApiKeys, revokeApiKey } from "./service";

const tags = ["API keys"];

const createApiKeyRoute = createRoute({
  method: "post",
  path: "/v1/api-keys",
  summary: "Create an organisation API key (the secret is shown once)",
  tags,
  ...authed("api_keys:write"),
  request: { body: { required: true, content: { "application/json": { schema: CreateApiKeyBody } } } },
  responses: { 201: jsonResponse(CreatedApiKey, "The new key, with its secret"), ...problemResponses },
});

const listApiKeysRoute = createRoute({
  method: "get",
  path: "/v1/api-keys",
  summary: "List the organisation's API keys (never their secrets)",
  tags,
  ...authed("api_keys:read"),
  request: { query: ApiKeyListQuery },
  responses: { 200: jsonResponse(ApiKeyList, "A page of keys"), ...problemResponses },
});

const revokeApiKeyRoute = createRoute({
  method: "delete",
  path: "/v1/api-keys/{id}",
  summary: "Revoke an API key: requests with it get 401 from now on",
  tags,
  ...authed("api_keys:write"),
  request: { params: ApiKeyIdParam },
  responses: { 204: { description: "Revoked" }, ...problemResponses },
});

export const apiKeysRoutes = createRouter()
  .openapi(createApiKeyRoute, async (c) => c.json(await createApiKey(c.var.ctx, c.req.valid("json")), 201))
  .openapi(listApiKeysRoute, async (c) => c.json(await listApiKeys(c.var.ctx, c.req.valid("query")), 200))
  .openapi(revokeApiKeyRoute, async (c) => {
    await revokeApiKey(c.var.ctx, c.req.valid("param").id);
    return c.body(null, 204);
  });
