import type { ConversationSnapshot } from "../../../../durable-objects/SalesConversation";
import { type SalesChannel, type SalesOrder, salesStageRefusals } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { Unprocessable } from "../../../lib/errors";
import { newId } from "../../../lib/ids";
import { assertCan } from "../../identity/auth/principal";
import { recordOwnAgentEvent } from "../../usage/events/service";
import { findPassages, passagesText } from "../agents/knowledge-passages";
import { findProductFacts, productFactsText } from "../agents/product-facts";
import { type ConversationMemory, conversationMemory, withConversationTurn } from "../conversations/memory";
import { appendMessages, type ConversationRow, getConversationRow, startConversation, updateAfterTurn } from "../conversations/service";
import { decideStage, enterStage, type FlowStage, isStageName, type StageName, type StageState } from "../flows/rules";
import { flowForTurn, type SalesFlow } from "../flows/service";
import { agentPrompt, ensureChatCredits } from "../settings/service";
import { type AgentCaller, agentModels, callAgent, TurnMeter } from "./models";
import { type PlannerAnswer, plan } from "./planner";
import { chatTurns, clip, type TranscriptLine, transcriptText } from "./transcript";

export interface SalesTurnInput {
  orgId: string;
  /** Continue this conversation; without it a new one starts. */
  conversationId?: string;
  contactId: string;
  channel: SalesChannel;
  message: string;
  /** Earlier messages a client kept itself, for a new conversation only. */
  history?: { role: "user" | "assistant"; content: string }[];
  /** Aborted when the client went away: the running model call stops and nothing more is said. */
  signal?: AbortSignal;
  /** Each piece of the reply as the model writes it (the reply is streamed when this is given). */
  onDelta?: (text: string) => void;
  /** What the turn is doing before the reply starts (planning, looking up products). */
  onThinking?: (step: ThinkingStep) => void;
}

/** What a turn is doing before its reply; it names the conversation first, so a client that leaves early can continue it. */
export interface ThinkingStep {
  step: "planning" | "products" | "knowledge";
  stage: StageName;
  conversation_id: string;
}

export interface SalesTurnResult {
  /** The bot's reply; null while staff have taken the conversation over. */
  reply: string | null;
  stage: StageName;
  conversation_id: string;
  contact_id: string;
  mode: "bot" | "human";
  /** The stage's image (an https URL or an R2 key) to send with the reply, or null. */
  attachment: string | null;
  usage: { input_tokens: number; output_tokens: number };
  cost: { credits: number; usd: string };
}

const TITLE_CHARS = 60;
/** The agents every bot turn asks, in this order; their models and prompts are read at once. */
const TURN_AGENTS = ["planner", "reply", "memory"] as const;
const MAX_SUMMARY_CHARS = 2000;

/**
 * One turn of a sales conversation, callable without HTTP (web chat routes, the Telegram and
 * WhatsApp channels). Under the conversation's turn lock, so messages of one chat are answered
 * one at a time in order: the planner proposes the next stage, the rules decide, the product and
 * knowledge agents look up what the planner asked for, the reply agent answers (streamed through
 * `onDelta` when given), and the memory agent folds the exchange into the running summary.
 * Every model call is charged as it happens; `usage` and `cost` are their sums.
 */
export async function runSalesTurn(ctx: ServiceCtx, input: SalesTurnInput): Promise<SalesTurnResult> {
  assertCan(ctx, "chatbot:write");
  const [flow, found] = await Promise.all([
    flowForTurn(ctx, input.orgId),
    input.conversationId ? getConversationRow(ctx, input.orgId, input.conversationId) : undefined,
  ]);
  let conversation: ConversationRow;
  if (found) {
    conversation = found;
    if (conversation.contactId !== input.contactId) {
      throw new Unprocessable([{ path: "contact_id", message: `Conversation ${conversation.id} is with another contact` }]);
    }
  } else {
    conversation = await startConversation(ctx, flow, { contactId: input.contactId, channel: input.channel });
    if (input.history?.length) await seedHistory(ctx, conversation, input.history);
  }
  return withConversationTurn(ctx, conversation.id, async (memory) => {
    // Read again under the lock: a takeover or an earlier turn may have changed it while we waited.
    const [current, snapshot] = await Promise.all([getConversationRow(ctx, input.orgId, conversation.id), memory.snapshot()]);
    const meter = new TurnMeter();
    try {
      const result = await turn(ctx, flow, current, memory, snapshot, meter, input);
      await meter.settle();
      return { ...result, usage: meter.usage(), cost: meter.cost() };
    } finally {
      // A turn that failed half-way still finishes writing the charges of the calls it made.
      await meter.settle().catch((error: unknown) => ctx.log.error("a sales chat charge failed", { conversation_id: conversation.id, error: String(error) }));
    }
  });
}

async function seedHistory(ctx: ServiceCtx, row: ConversationRow, history: NonNullable<SalesTurnInput["history"]>): Promise<void> {
  const messages = history.map((m) => ({ role: m.role, content: m.content, stage: row.stage }));
  await appendMessages(ctx, row, messages);
  await conversationMemory(ctx, row.id).seed(messages);
}

async function turn(
  ctx: ServiceCtx,
  flow: SalesFlow,
  row: ConversationRow,
  memory: ConversationMemory,
  snapshot: ConversationSnapshot,
  meter: TurnMeter,
  input: SalesTurnInput,
): Promise<SalesTurnResult> {
  const state: StageState = { stage: isStageName(row.stage) ? row.stage : snapshot.stage, visited: snapshot.visited };
  const result = (reply: string | null, stage: StageName, attachment: string | null): SalesTurnResult => ({
    reply,
    stage,
    conversation_id: row.id,
    contact_id: row.contactId,
    mode: row.mode,
    attachment,
    usage: meter.usage(),
    cost: meter.cost(),
  });
  const title = clip(input.message, TITLE_CHARS);

  if (row.mode === "human") {
    // Taken over: the message is kept for the staff member, and no model is asked.
    const message = { role: "user" as const, content: input.message, stage: state.stage };
    await Promise.all([
      appendMessages(ctx, row, [message]),
      memory.commit({ stage: state.stage, visited: state.visited, messages: [message] }),
      updateAfterTurn(ctx, row, { stage: state.stage, title }),
    ]);
    return result(null, state.stage, null);
  }

  // One round of reads before the first model call: the balance, and the agents' models and prompts.
  const [, models, prompts] = await Promise.all([
    ensureChatCredits(ctx, flow.orgId),
    agentModels(ctx, flow.orgId, TURN_AGENTS),
    Promise.all(TURN_AGENTS.map((agent) => agentPrompt(ctx, flow.orgId, agent))),
  ]);
  const [plannerPrompt, replyPrompt, memoryPrompt] = prompts as [string, string, string];
  const caller: AgentCaller = { orgId: flow.orgId, conversationId: row.id, contactId: row.contactId, meter, signal: input.signal, models };
  const recent: TranscriptLine[] = snapshot.messages;
  input.onThinking?.({ step: "planning", stage: state.stage, conversation_id: row.id });
  const proposal = await plan(ctx, caller, { flow: flow.stages, state, summary: snapshot.summary, recent, message: input.message, prompt: plannerPrompt });
  const decision = decideStage(flow.stages, state, { next: proposal?.next_stage ?? null, userLeaving: proposal?.user_leaving ?? false });
  if (decision.refusal) await logRefusal(ctx, row, state.stage, decision.stage, decision.refusal);
  const next = enterStage(state, decision.stage);
  const stage = flow.stages.find((s) => s.name === next.stage);

  const [facts, order, stagePrompt] = await Promise.all([
    lookUpFacts(ctx, flow, proposal, (step) => input.onThinking?.({ step, stage: next.stage, conversation_id: row.id })),
    next.stage === "closing" && proposal?.order && !row.saleClosedAt ? priceOrder(ctx, flow.orgId, proposal.order) : null,
    stage?.prompt ?? agentPrompt(ctx, flow.orgId, `stage.${next.stage}`),
  ]);

  const system = replyInstructions(replyPrompt, stage, next.stage, stagePrompt, snapshot.summary, facts, order);
  const reply =
    (
      await callAgent(
        ctx,
        caller,
        "reply",
        { messages: [{ role: "system", content: system }, ...chatTurns(recent), { role: "user", content: input.message }] },
        input.onDelta,
      )
    ).content?.trim() ?? "";

  const summary = await summarise(ctx, caller, memoryPrompt, snapshot.summary, input.message, reply);
  const exchange = [
    { role: "user" as const, content: input.message, stage: state.stage },
    { role: "assistant" as const, content: reply, stage: next.stage },
  ];
  // The transcript, the object's memory and the conversation's row are independent writes.
  await Promise.all([
    appendMessages(ctx, row, exchange),
    memory.commit({ stage: next.stage, visited: next.visited, summary, messages: exchange }),
    updateAfterTurn(ctx, row, { stage: next.stage, title, ...(order ? { order } : {}) }),
  ]);
  if (order) await recordSale(ctx, flow, row, order);
  return result(reply, next.stage, stage?.attachment ?? null);
}

async function logRefusal(ctx: ServiceCtx, row: ConversationRow, from: StageName, decided: StageName, refusal: { proposed: string | null; reason: string }) {
  ctx.log.info("stage proposal refused", { conversation_id: row.id, from, proposed: refusal.proposed, decided, reason: refusal.reason });
  await ctx.db.insert(salesStageRefusals).values({
    id: newId("ssr"),
    orgId: row.orgId,
    conversationId: row.id,
    fromStage: from,
    proposed: refusal.proposed === null ? null : clip(refusal.proposed, 100),
    decided,
    reason: refusal.reason,
  });
}

interface Facts {
  products: string | null;
  knowledge: string | null;
}

/** What the planner asked to look up: product facts from the catalogue, passages from the knowledge base. */
async function lookUpFacts(ctx: ServiceCtx, flow: SalesFlow, proposal: PlannerAnswer | null, onStep: (step: "products" | "knowledge") => void): Promise<Facts> {
  const facts: Facts = { products: null, knowledge: null };
  const productQuery = proposal?.product_query || proposal?.order?.product;
  if (productQuery) {
    onStep("products");
    facts.products = productFactsText(productQuery, await findProductFacts(ctx, flow.orgId, productQuery));
  }
  const knowledgeQuery = proposal?.knowledge_query;
  if (knowledgeQuery && flow.knowledgeAssistantId) {
    onStep("knowledge");
    try {
      facts.knowledge = passagesText(knowledgeQuery, await findPassages(ctx, flow.orgId, flow.knowledgeAssistantId, knowledgeQuery));
    } catch (error) {
      // The flow's assistant may have been deleted since: the reply goes on without passages.
      ctx.log.warn("knowledge search failed during a sales turn", {
        assistant_id: flow.knowledgeAssistantId,
        error: error instanceof Error ? error.message : String(error),
      });
      facts.knowledge = passagesText(knowledgeQuery, []);
    }
  }
  return facts;
}

/** The order's value from the products table (price times quantity); null when no product matches. */
async function priceOrder(ctx: ServiceCtx, orgId: string, order: { product: string; quantity: number }): Promise<SalesOrder | null> {
  const [best] = await findProductFacts(ctx, orgId, order.product);
  if (!best) return null;
  return { product_id: best.product_id, quantity: order.quantity, value: best.price * order.quantity, currency: best.currency };
}

/** The conversation's `sale_closed` outcome on the flow's agent, once per conversation (its id is the event id). */
async function recordSale(ctx: ServiceCtx, flow: SalesFlow, row: ConversationRow, order: SalesOrder): Promise<void> {
  try {
    await recordOwnAgentEvent(ctx, flow.agentId, {
      kind: "outcome",
      id: `${row.id}:sale_closed`,
      type: "sale_closed",
      success: true,
      value: order.value,
      currency: order.currency,
      occurred_at: ctx.now(),
      metadata: { conversation_id: row.id, product_id: order.product_id, quantity: order.quantity },
    });
  } catch (error) {
    // The sale stands on the conversation; a closed billing period must not undo the turn.
    ctx.log.warn("sale_closed outcome not recorded", { conversation_id: row.id, error: error instanceof Error ? error.message : String(error) });
  }
}

function replyInstructions(
  replyPrompt: string,
  stage: FlowStage | undefined,
  stageName: StageName,
  stagePrompt: string,
  summary: string,
  facts: Facts,
  order: SalesOrder | null,
): string {
  const parts = [replyPrompt, `Current stage: ${stageName}. Goal: ${stage?.goal ?? stageName}.`, `Stage instructions: ${stagePrompt}`];
  if (summary) parts.push(`What you remember of this conversation: ${summary}`);
  if (facts.products) parts.push(`Product facts (the only prices and stock you may quote):\n${facts.products}`);
  if (facts.knowledge) parts.push(`Knowledge base passages (the only policies you may state):\n${facts.knowledge}`);
  if (order) parts.push(`The visitor ordered ${order.quantity} of product ${order.product_id}; confirm it.`);
  return parts.join("\n\n");
}

/** The memory agent's new running summary; a failure keeps the old one (the reply has already been given). */
async function summarise(ctx: ServiceCtx, caller: AgentCaller, prompt: string, previous: string, message: string, reply: string): Promise<string> {
  try {
    const exchange = transcriptText([
      { role: "user", content: message },
      { role: "assistant", content: reply },
    ]);
    const result = await callAgent(ctx, caller, "memory", {
      messages: [
        { role: "system", content: prompt },
        { role: "user", content: `Previous summary: ${previous || "(none)"}\n\nLatest exchange:\n${exchange}` },
      ],
    });
    return clip((result.content ?? previous).trim(), MAX_SUMMARY_CHARS);
  } catch (error) {
    if (caller.signal?.aborted) throw error;
    ctx.log.warn("memory agent failed; the summary stays as it was", {
      conversation_id: caller.conversationId,
      error: error instanceof Error ? error.message : String(error),
    });
    return previous;
  }
}
