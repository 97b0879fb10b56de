import { createRoute, z } from "@hono/zod-openapi";
import { createRouter, problem } from "../../../lib/openapi";
import { checkHealth } from "./service";

const HealthSchema = z
  .object({
    status: z.literal("ok").openapi({ description: "The API answers", example: "ok" }),
    db: z.literal("ok").openapi({ description: "The database answered a query", example: "ok" }),
    fake_providers: z.array(z.string()).openapi({
      description:
        "Providers this server reaches as local fakes instead of the real service (`FAKE_PROVIDERS=1 npm run dev`): their answers are made up. Empty when every provider is real.",
      example: [],
    }),
  })
  .openapi("Health");

const healthRoute = createRoute({
  method: "get",
  path: "/healthz",
  tags: ["System"],
  summary: "Liveness, database reachability and which providers are fakes",
  responses: {
    200: { description: "The API and its database are up", content: { "application/json": { schema: HealthSchema } } },
    503: problem("The database is not reachable"),
  },
});

export const healthRoutes = createRouter().openapi(healthRoute, async (c) => c.json(await checkHealth(c.var.ctx), 200));
