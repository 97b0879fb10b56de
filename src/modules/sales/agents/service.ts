import type { ServiceCtx } from "../../../lib/context";
import { Unprocessable } from "../../../lib/errors";
import { getAssistantInOrg } from "../../assistants/assistants/service";
import { assertCan, requireOrgId } from "../../identity/auth/principal";
import { type AgentCaller, callAgent, TurnMeter } from "../chat/models";
import { flowKnowledgeAssistantId } from "../flows/service";
import { agentPrompt, ensureChatCredits } from "../settings/service";
import { findPassages, passagesText } from "./knowledge-passages";
import { findProductFacts, noProductAnswer, productFactsText } from "./product-facts";
import type { KnowledgeAnswerView, KnowledgeSearchInput, ProductAnswerView } from "./schemas";

export interface AgentStreaming {
  signal?: AbortSignal;
  onDelta?: (text: string) => void;
}

/** The agent's answer to `question` from `facts` alone (its prompt, then the facts), charged to the organisation. */
async function answerFrom(
  ctx: ServiceCtx,
  orgId: string,
  agent: "product" | "knowledge",
  facts: string,
  question: string,
  meter: TurnMeter,
  streaming: AgentStreaming,
): Promise<string> {
  await ensureChatCredits(ctx, orgId);
  const caller: AgentCaller = { orgId, conversationId: null, contactId: null, meter, signal: streaming.signal };
  const system = `${await agentPrompt(ctx, orgId, agent)}\n\n${facts}`;
  const messages = [
    { role: "system" as const, content: system },
    { role: "user" as const, content: question },
  ];
  const result = await callAgent(ctx, caller, agent, { messages }, streaming.onDelta);
  await meter.settle();
  return result.content?.trim() ?? "";
}

/**
 * `POST /v1/chatbot/product-query`: the product agent on its own. The facts come from the
 * organisation's products (the products service); when none matches, the answer says so and no
 * model is asked, so nothing can be made up.
 */
export async function productQuery(ctx: ServiceCtx, query: string, streaming: AgentStreaming = {}): Promise<ProductAnswerView> {
  assertCan(ctx, "chatbot:write");
  const orgId = requireOrgId(ctx);
  const meter = new TurnMeter();
  const products = await findProductFacts(ctx, orgId, query);
  if (products.length === 0) {
    const answer = noProductAnswer(query);
    streaming.onDelta?.(answer);
    return { answer, products, usage: meter.usage(), cost: meter.cost() };
  }
  const answer = await answerFrom(ctx, orgId, "product", `Product records:\n${productFactsText(query, products)}`, query, meter, streaming);
  return { answer, products, usage: meter.usage(), cost: meter.cost() };
}

/**
 * `POST /v1/chatbot/knowledge-search`: the knowledge agent on its own, over the assistant named
 * or the flow's. No passage found: the answer says so and no model is asked.
 */
export async function knowledgeSearch(ctx: ServiceCtx, input: KnowledgeSearchInput, streaming: AgentStreaming = {}): Promise<KnowledgeAnswerView> {
  assertCan(ctx, "chatbot:write");
  const orgId = requireOrgId(ctx);
  const assistantId = input.assistant_id ?? (await flowKnowledgeAssistantId(ctx, orgId));
  if (!assistantId) {
    throw new Unprocessable([{ path: "assistant_id", message: "Name an assistant, or set the flow's knowledge_assistant_id (PUT /v1/chatbot/flow)" }]);
  }
  await getAssistantInOrg(ctx, assistantId);
  const meter = new TurnMeter();
  const passages = await findPassages(ctx, orgId, assistantId, input.query);
  if (passages.length === 0) {
    const answer = `I could not find anything about "${input.query}" in the knowledge base.`;
    streaming.onDelta?.(answer);
    return { answer, assistant_id: assistantId, passages, usage: meter.usage(), cost: meter.cost() };
  }
  const answer = await answerFrom(ctx, orgId, "knowledge", `Passages:\n${passagesText(input.query, passages)}`, input.query, meter, streaming);
  return { answer, assistant_id: assistantId, passages, usage: meter.usage(), cost: meter.cost() };
}
