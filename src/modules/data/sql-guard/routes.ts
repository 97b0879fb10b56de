import { createRoute } from "@hono/zod-openapi";
import { createRouter, jsonBody, jsonResponse, problemResponses } from "../../../lib/openapi";
import { authed } from "../../identity/auth/route-security";
import { CheckSqlBody, SqlCheckResult } from "./schemas";
import { lintSql } from "./service";

const checkSqlRoute = createRoute({
  method: "post",
  path: "/v1/sql/check",
  summary: "Check SQL against the query guard without running it",
  description:
    "Parses the SQL with the PostgreSQL 17 parser and applies the rules every query from `/v1/query/*` and tools must pass: one SELECT, VALUES or EXPLAIN (without ANALYZE) statement; no writes anywhere in the tree, no locking, no denied functions (file access, sleeping, settings, advisory locks...), no system catalogs beyond a few schema views, and only the allowed schemas and tables. A refused statement is still a 200: `allowed` is false and `reasons` says why.",
  tags: ["SQL"],
  ...authed("sql:query"),
  request: jsonBody(CheckSqlBody),
  responses: { 200: jsonResponse(SqlCheckResult, "The guard's verdict"), ...problemResponses },
});

export const sqlGuardRoutes = createRouter().openapi(checkSqlRoute, async (c) => c.json(await lintSql(c.var.ctx, c.req.valid("json")), 200));
