import { createRoute, z } from "@hono/zod-openapi";
import { createRouter, problem } from "../../../lib/openapi";
import { checkHealth } from "./service";

const HealthSchema = z
  .object({
    status: z.literal("ok").openapi({ description: "The API answers", example: "ok" }),
    db: z.literal("ok").openapi({ description: "The database answered a query", example: "ok" }),
  })
  .openapi("Health");

const healthRoute = createRoute({
  method: "get",
  path: "/healthz",
  tags: ["System"],
  summary: "Liveness and database reachability",
  responses: {
    200: { description: "The API and its database are up", content: { "application/json": { schema: HealthSchema } } },
    503: problem("The database is not reachable"),
  },
});

export const healthRoutes = createRouter().openapi(healthRoute, async (c) => c.json(await checkHealth(c.var.ctx), 200));
