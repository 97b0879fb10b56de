import { createRoute } from "@hono/zod-openapi";
import { createRouter, jsonBody, jsonResponse, problem, problemResponses } from "../../../lib/openapi";
import { authed } from "../../identity/auth/route-security";
import { meterApiUsage } from "../../money/credits/metering";
import { Completion, CompletionBody } from "./schemas";
import { createCompletion } from "./service";

const aiUse = authed("ai:use");

const createCompletionRoute = createRoute({
  method: "post",
  path: "/v1/ai/completions",
  summary: "A chat completion, paid in credits",
  description:
    "Holds credits estimated from the prompt length and `max_tokens`, calls the model, then charges the actual token usage and gives back the rest. Without enough credits: 402 with `balance` and `needed`, and the model is not called.",
  tags: ["AI"],
  ...aiUse,
  // Metering wraps authentication so refused calls (402, 403) are counted as well.
  middleware: [meterApiUsage(), ...aiUse.middleware],
  request: jsonBody(CompletionBody),
  responses: {
    200: jsonResponse(Completion, "The answer and what it cost"),
    ...problemResponses,
    402: problem("Not enough credits; the body carries `balance` and `needed`"),
    502: problem("The provider refused the request"),
    503: problem("The provider is not configured or not available right now"),
  },
});

export const aiRoutes = createRouter().openapi(createCompletionRoute, async (c) => c.json(await createCompletion(c.var.ctx, c.req.valid("json")), 200));
