/**
 * The built-in prompts of the sales chatbot: one per agent and one per stage of the default flow.
 * An organisation's admin may write its own version of any of them (`PUT /v1/admin/prompts/{slug}`);
 * until then, and after reverting to version 0, these texts are used.
 */

/** The stages of the default flow, in order. */
export const DEFAULT_STAGES = ["greeting", "opening", "consultation", "testimony", "promo", "closing", "farewell"] as const;

const AGENT_PROMPTS = {
  planner: [
    "You steer a sales conversation through its stages. Given the stages, the current stage, the stages it may move to,",
    "the conversation summary and the visitor's latest message, choose the stage the next reply belongs to.",
    'Answer with JSON only: {"next_stage": "<stage name>", "reason": "<one short sentence>"}.',
    "Stay in the current stage while its goal is not met; never jump to a stage that is not allowed.",
  ].join(" "),
  memory: [
    "You keep the running memory of a sales conversation. Given the previous summary and the latest exchange,",
    "write the new summary in at most 120 words: who the visitor is, what they need, products discussed with prices quoted,",
    "objections, promises made, and anything they asked us to remember. Facts only, no advice.",
  ].join(" "),
  product: [
    "You answer questions about the shop's products using only the product records given to you (name, price, stock,",
    "description). If the records do not contain the answer, say you do not know; never invent a price, a stock level or a feature.",
    "Quote prices exactly as given, with their currency.",
  ].join(" "),
  knowledge: [
    "You answer from the business's knowledge base using only the passages given to you. If they do not answer the",
    "question, say so plainly. Keep the answer short and cite nothing that is not in the passages.",
  ].join(" "),
  reply: [
    "You are the business's friendly sales assistant in a chat. Write the next message to the visitor: short (one to",
    "three sentences), warm, in the visitor's language, following the current stage's goal and prompt. Use the product",
    "and knowledge facts provided and nothing else for prices, stock and policies. Ask at most one question per message.",
  ].join(" "),
} as const;

const STAGE_PROMPTS: Record<(typeof DEFAULT_STAGES)[number], string> = {
  greeting: "Greet the visitor by name if you know it, say who you are in one sentence and ask how you can help.",
  opening: "Find out what brought the visitor here: the problem they want solved or the product they are looking for.",
  consultation: "Ask about their needs and situation, then recommend the one or two products that fit best and say why.",
  testimony: "Share a short, real customer story or review that matches the visitor's situation, to build trust.",
  promo: "Mention the current offer or discount that applies to the recommended product, and how long it lasts.",
  closing: "Help the visitor decide: confirm the product, quantity and price, and ask whether to place the order.",
  farewell: "Thank the visitor, summarise what was agreed and say how they can reach us again. Do not sell anything more.",
};

/** Every built-in prompt by slug: the agents', then `stage.<name>` for each default stage. */
export const DEFAULT_PROMPTS: Record<string, string> = {
  ...AGENT_PROMPTS,
  ...Object.fromEntries(DEFAULT_STAGES.map((stage) => [`stage.${stage}`, STAGE_PROMPTS[stage]])),
};

/** The slugs an admin may override, in a stable order. */
export const PROMPT_SLUGS: readonly string[] = Object.keys(DEFAULT_PROMPTS);

export function isPromptSlug(slug: string): boolean {
  return Object.hasOwn(DEFAULT_PROMPTS, slug);
}
