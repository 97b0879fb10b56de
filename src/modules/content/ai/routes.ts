import { createRoute } from "@hono/zod-openapi";
import { createRouter, jsonBody, jsonResponse, problem, problemResponses } from "../../../lib/openapi";
import { authed } from "../../identity/auth/route-security";
import { meterApiUsage } from "../../money/credits/metering";
import { createBanner } from "./banner";
import { AiContentList, AiContentListQuery, AiText, Banner, BannerBody, Completion, CompletionBody, TextBody } from "./schemas";
import { createCompletion } from "./service";
import { listAiContent, writeText } from "./text";

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

const writeTextRoute = createRoute({
  method: "post",
  path: "/v1/ai/text",
  summary: "Marketing text for a channel, within its limits, paid in credits",
  description:
    "`{prompt, style}` alone writes an offer. Each kind has a length limit (`max_chars` lowers it); an SMS fits `max_segments` segments (default 1: 160 GSM-7 characters, or 70 when a character needs UCS-2). A draft over the limit is sent back to the model once; if the rewrite is still over, it is cut at a word boundary (`adjusted` says which). Charged from the tokens of all calls; kept in `GET /v1/ai/content`.",
  tags: ["AI"],
  ...aiUse,
  middleware: [meterApiUsage(), ...aiUse.middleware],
  request: jsonBody(TextBody),
  responses: {
    201: jsonResponse(AiText, "The text and what it cost"),
    ...problemResponses,
    402: problem("Not enough credits; the body carries `balance` and `needed`"),
    502: problem("The provider refused the request"),
    503: problem("The provider is not configured or not available right now"),
  },
});

const createBannerRoute = createRoute({
  method: "post",
  path: "/v1/ai/banner",
  summary: "An AI banner (OpenAI Images API), stored as a PNG file, paid per image",
  description:
    "`{prompt}` alone works. Sizes and styles are checked against OPENAI_IMAGE_MODEL's (dall-e-3 by default; gpt-image-1 supported). Answers the stored file and a signed link. A prompt the provider refuses under its content policy is a 422 with its reason, and nothing is charged.",
  tags: ["AI"],
  ...aiUse,
  middleware: [meterApiUsage(), ...aiUse.middleware],
  request: jsonBody(BannerBody),
  responses: {
    201: jsonResponse(Banner, "The banner"),
    ...problemResponses,
    402: problem("Not enough credits; the body carries `balance` and `needed`"),
    413: problem("The organisation's storage quota is full"),
    502: problem("The provider failed"),
    503: problem("The provider is not configured or not available right now"),
  },
});

const listAiContentRoute = createRoute({
  method: "get",
  path: "/v1/ai/content",
  summary: "The organisation's AI texts and banners with their model, tokens and credits",
  tags: ["AI"],
  ...authed("ai:read"),
  request: { query: AiContentListQuery },
  responses: { 200: jsonResponse(AiContentList, "A page, newest first"), ...problemResponses },
});

export const aiRoutes = createRouter()
  .openapi(createCompletionRoute, async (c) => c.json(await createCompletion(c.var.ctx, c.req.valid("json")), 200))
  .openapi(writeTextRoute, async (c) => c.json(await writeText(c.var.ctx, c.req.valid("json")), 201))
  .openapi(createBannerRoute, async (c) => c.json(await createBanner(c.var.ctx, c.req.valid("json")), 201))
  .openapi(listAiContentRoute, async (c) => c.json(await listAiContent(c.var.ctx, c.req.valid("query")), 200));
