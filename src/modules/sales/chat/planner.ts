import { z } from "@hono/zod-openapi";
import type { ServiceCtx } from "../../../lib/context";
import type { FlowStage, StageState } from "../flows/rules";
import { type AgentCaller, callAgent } from "./models";
import { type TranscriptLine, transcriptText } from "./transcript";

/** The planner's answer, as every answer is checked: a provider may ignore `response_format` (Anthropic's does). */
export const PlannerAnswer = z.object({
  next_stage: z.string().min(1).max(40),
  reason: z.string().max(1000).default(""),
  user_leaving: z.boolean().default(false),
  product_query: z.string().trim().max(200).nullable().default(null),
  knowledge_query: z.string().trim().max(200).nullable().default(null),
  order: z
    .object({ product: z.string().trim().min(1).max(200), quantity: z.number().int().min(1).max(100_000) })
    .nullable()
    .default(null),
});
export type PlannerAnswer = z.infer<typeof PlannerAnswer>;

/** The schema name the planner's structured output goes by (the OpenAI fake recognises our planner by it). */
export const PLANNER_SCHEMA_NAME = "sales_planner";

const nullableString = { type: ["string", "null"] };

/** Strict JSON schema for `response_format`: `next_stage` lists the current stage first, then where it may go. */
function plannerSchema(choices: string[]) {
  return {
    type: "object",
    additionalProperties: false,
    required: ["next_stage", "reason", "user_leaving", "product_query", "knowledge_query", "order"],
    properties: {
      next_stage: { type: "string", enum: choices, description: "The stage the next reply belongs to" },
      reason: { type: "string", description: "One short sentence" },
      user_leaving: { type: "boolean", description: "True when the visitor is ending the conversation" },
      product_query: { ...nullableString, description: "Words to look up in the product catalogue when prices, stock or product details are needed" },
      knowledge_query: { ...nullableString, description: "A question for the knowledge base (policies, delivery, opening hours), or null" },
      order: {
        type: ["object", "null"],
        additionalProperties: false,
        required: ["product", "quantity"],
        properties: { product: { type: "string", description: "Product name or SKU" }, quantity: { type: "integer", minimum: 1 } },
        description: "What the visitor has agreed to buy, once they have said yes; null until then",
      },
    },
  };
}

const FIELDS = [
  "Answer with one JSON object only, with these fields:",
  '"next_stage" (one of the allowed stages, or the current one), "reason" (one short sentence),',
  '"user_leaving" (true when the visitor is ending the conversation), "product_query" (catalogue search words, or null),',
  '"knowledge_query" (a question for the knowledge base, or null), "order" ({"product", "quantity"} once the visitor has agreed to buy, else null).',
].join(" ");

/**
 * `text` as JSON. Models that ignore `response_format` wrap the object in code fences or a
 * sentence: the outermost `{...}` is tried when the whole text is not JSON.
 */
function parseJson(text: string | null): unknown {
  if (!text) return undefined;
  const attempt = (candidate: string) => {
    try {
      return JSON.parse(candidate) as unknown;
    } catch {
      return undefined;
    }
  };
  const whole = attempt(text.trim());
  if (whole !== undefined) return whole;
  const start = text.indexOf("{");
  const end = text.lastIndexOf("}");
  return start >= 0 && end > start ? attempt(text.slice(start, end + 1)) : undefined;
}

export interface PlannerInput {
  flow: readonly FlowStage[];
  state: StageState;
  summary: string;
  recent: TranscriptLine[];
  message: string;
  /** The organisation's planner prompt. */
  prompt: string;
}

/**
 * Asks the planner where the conversation goes next. Every answer is validated; an invalid one
 * is asked for again once, and a second invalid answer gives null (the rules then decide).
 */
export async function plan(ctx: ServiceCtx, caller: AgentCaller, input: PlannerInput): Promise<PlannerAnswer | null> {
  const current = input.flow.find((s) => s.name === input.state.stage);
  const choices = [input.state.stage, ...(current ? current.next : input.flow.map((s) => s.name).filter((name) => name !== input.state.stage))];
  const system = `${input.prompt}\n\n${FIELDS}`;
  const context = [
    `Stages: ${input.flow.map((s) => `${s.name} (${s.goal}) -> ${s.next.join(", ") || "end"}`).join("; ")}`,
    `Current stage: ${input.state.stage}`,
    `Allowed next stages: ${choices.join(", ")}`,
    `Stages visited: ${input.state.visited.join(", ")}`,
    `Summary so far: ${input.summary || "(none)"}`,
    `Recent messages:\n${transcriptText(input.recent) || "(none)"}`,
    `Visitor's latest message: ${input.message}`,
  ].join("\n");
  const messages = [
    { role: "system" as const, content: system },
    { role: "user" as const, content: context },
  ];
  const responseFormat = { type: "json_schema" as const, json_schema: { name: PLANNER_SCHEMA_NAME, strict: true, schema: plannerSchema(choices) } };
  for (let attempt = 1; attempt <= 2; attempt++) {
    const result = await callAgent(ctx, caller, "planner", { messages, response_format: responseFormat, temperature: 0 });
    const parsed = PlannerAnswer.safeParse(parseJson(result.content));
    if (parsed.success) return parsed.data;
    ctx.log.warn("planner answer refused", { conversation_id: caller.conversationId, attempt, issues: parsed.error.issues.length });
  }
  return null;
}
