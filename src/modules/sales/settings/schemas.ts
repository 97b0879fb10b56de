import { z } from "@hono/zod-openapi";
import { LLM_PROVIDER_NAMES, SALES_AGENTS } from "../../../db/schema";
import { PROMPT_SLUGS } from "./prompts";

const Provider = z.enum(LLM_PROVIDER_NAMES).openapi({ description: "The model provider (its OpenAI-compatible endpoint)", example: "anthropic" });

// Model ids of the four providers are short and plain (`gpt-4o-mini`, `claude-sonnet-4-5-20250929`,
// `models/gemini-2.5-flash`, `grok-4`): anything else is a typo or an attack, not a model.
const ModelName = z
  .string()
  .trim()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:/@-]*$/, "A model id: letters, digits and . _ : / @ - only")
  .openapi({ description: "The provider's model id", example: "claude-sonnet-4-5" });

const AgentChoice = z.object({ provider: Provider, model: ModelName }).strict();

const AgentConfig = z
  .object({
    provider: Provider,
    model: z.string().openapi({ example: "claude-sonnet-4-5" }),
    is_default: z
      .boolean()
      .openapi({ description: "True when no model is chosen for this agent and the organisation's default (/v1/org/settings `llm`) applies", example: false }),
  })
  .openapi("SalesAgentConfig");

const AGENT_DESCRIPTIONS: Record<(typeof SALES_AGENTS)[number], string> = {
  planner: "Decides each turn's next stage (structured output)",
  memory: "Keeps the running summary of a conversation",
  product: "Answers product facts from the organisation's products",
  knowledge: "Answers from the knowledge base",
  reply: "Writes the bot's answer",
};

export const AgentConfigs = z
  .object(
    Object.fromEntries(SALES_AGENTS.map((agent) => [agent, AgentConfig.openapi({ description: AGENT_DESCRIPTIONS[agent] })])) as Record<
      (typeof SALES_AGENTS)[number],
      typeof AgentConfig
    >,
  )
  .openapi("SalesAgentConfigs");

export const PutAgentConfigsBody = z
  .object(
    Object.fromEntries(
      SALES_AGENTS.map((agent) => [
        agent,
        AgentChoice.nullable()
          .optional()
          .openapi({
            description: `${AGENT_DESCRIPTIONS[agent]}: \`{provider, model}\`, or null for the organisation's default (/v1/org/settings \`llm\`); absent stays as is`,
          }),
      ]),
    ) as Record<(typeof SALES_AGENTS)[number], z.ZodOptional<z.ZodNullable<typeof AgentChoice>>>,
  )
  .strict()
  .openapi("PutSalesAgentConfigs", { example: { reply: { provider: "anthropic", model: "claude-sonnet-4-5" }, planner: null } });

const Price = z
  .object({
    input_per_million_tokens: z.number().openapi({ description: "Credits per million input tokens (1 credit = USD 0.001)", example: 3600 }),
    output_per_million_tokens: z.number().openapi({ description: "Credits per million output tokens", example: 18000 }),
    input_usd_per_million_tokens: z.string().openapi({ description: "The same in US dollars", example: "3.600" }),
    output_usd_per_million_tokens: z.string().openapi({ example: "18.000" }),
  })
  .openapi("LlmPrice");

export const LlmOptions = z
  .object({
    providers: z.array(
      z.object({
        provider: Provider,
        label: z.string().openapi({ example: "Anthropic" }),
        models: z.array(z.object({ model: z.string().openapi({ example: "claude-sonnet-4-5" }), price: Price })),
        default_price: Price.openapi({ description: "What a model not listed costs (unless a known prefix prices it)" }),
      }),
    ),
    default: z
      .object({ provider: Provider, model: z.string().openapi({ example: "gpt-4o-mini" }) })
      .openapi({ description: "What an agent with no configuration uses" }),
  })
  .openapi("LlmOptions");

const Slug = z.string().openapi({ description: `One of: ${PROMPT_SLUGS.join(", ")}`, example: "reply" });

export const Prompt = z
  .object({
    slug: Slug,
    text: z.string().openapi({ example: "You are the business's friendly sales assistant..." }),
    version: z.number().int().openapi({ description: "The version in use; 0 is the built-in default", example: 2 }),
    latest_version: z.number().int().openapi({ description: "The highest version written (0 when none)", example: 3 }),
    is_default: z.boolean().openapi({ example: false }),
    updated_at: z.string().nullable().openapi({ example: "2026-05-01T12:00:00.000Z" }),
  })
  .openapi("SalesPrompt");

export const PromptList = z.object({ data: z.array(Prompt) }).openapi("SalesPromptList");

export const PromptSlugParam = z.object({
  slug: z
    .string()
    .max(100)
    .openapi({ param: { name: "slug", in: "path" }, example: "stage.greeting" }),
});

const PromptText = z
  .string()
  .trim()
  .min(1)
  .max(20_000)
  .refine((value) => !value.includes("\u0000"), "Must not contain NUL characters")
  .openapi({ description: "The new text, 1 to 20000 characters", example: "Greet the visitor warmly and ask what they are looking for." });

const Version = z
  .number()
  .int()
  .min(0)
  .max(1_000_000)
  .openapi({ description: "An earlier version to make current again; 0 is the built-in default", example: 1 });

// "Exactly one of text and revert_to" is checked by the service, after the slug: an unknown
// prompt is a 404 whatever the body says.
export const PutPromptBody = z
  .object({ text: PromptText.optional(), revert_to: Version.optional() })
  .strict()
  .openapi("PutSalesPrompt", { description: "Either `{text}`, a new version, or `{revert_to}`, an earlier version made current again" });

export const RevertPromptBody = z.object({ version: Version }).strict().openapi("RevertSalesPrompt");
