import { and, eq, sql } from "drizzle-orm";
import { withTransaction } from "../../../db/client";
import { type StoredSalesStage, salesFlows } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { NotFound, Unprocessable } from "../../../lib/errors";
import { newId } from "../../../lib/ids";
import { orgFilesPrefix } from "../../../lib/org-files";
import { getAssistantInOrg } from "../../assistants/assistants/service";
import { recordAudit } from "../../identity/audit/service";
import { assertCan, requireOrgId, systemActor } from "../../identity/auth/principal";
import { createAgentInOrg } from "../../usage/agents/service";
import { DEFAULT_FLOW } from "./default-flow";
import { type FlowStage, flowProblems } from "./rules";
import type { FlowView, PutFlowInput } from "./schemas";

type FlowRow = typeof salesFlows.$inferSelect;

/** A flow as the chat reads it. */
export interface SalesFlow {
  id: string;
  orgId: string;
  agentId: string;
  stages: FlowStage[];
  knowledgeAssistantId: string | null;
}

function toFlow(row: FlowRow): SalesFlow {
  return { id: row.id, orgId: row.orgId, agentId: row.agentId, stages: row.stages as FlowStage[], knowledgeAssistantId: row.knowledgeAssistantId };
}

function flowView(row: FlowRow): FlowView {
  return {
    id: row.id,
    agent_id: row.agentId,
    knowledge_assistant_id: row.knowledgeAssistantId,
    stages: row.stages as FlowStage[],
    updated_at: row.updatedAt.toISOString(),
  };
}

async function flowRow(ctx: ServiceCtx, orgId: string): Promise<FlowRow | undefined> {
  const [row] = await ctx.db.select().from(salesFlows).where(eq(salesFlows.orgId, orgId));
  return row;
}

/**
 * The organisation's flow, created with the default stages (and the usage agent its
 * conversations are activities of) on first use. Two first uses racing make one flow: the
 * second waits on the advisory lock and then finds the first's row.
 */
async function ensureFlowRow(ctx: ServiceCtx, orgId: string): Promise<FlowRow> {
  const existing = await flowRow(ctx, orgId);
  if (existing) return existing;
  return withTransaction(ctx, async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`sales_flow:${orgId}`}, 0))`);
    const [found] = await tx.select().from(salesFlows).where(eq(salesFlows.orgId, orgId));
    if (found) return found;
    // The agent belongs to the platform's own work for the organisation, whoever chatted first.
    const txCtx: ServiceCtx = { ...ctx, db: tx, actor: ctx.actor ?? systemActor(orgId, []) };
    const agent = await createAgentInOrg(txCtx, { name: "Sales chat", description: "The sales chatbot: each conversation is an activity" });
    const now = ctx.now();
    const [row] = await tx
      .insert(salesFlows)
      .values({ id: newId("sfl"), orgId, agentId: agent.id, stages: DEFAULT_FLOW, knowledgeAssistantId: null, createdAt: now, updatedAt: now })
      .returning();
    if (!row) throw new Error("sales flow insert returned no row");
    return row;
  });
}

/**
 * The assistant whose knowledge the flow answers from, or null, without creating the flow: a
 * search that is then refused (no assistant named) leaves no rows behind.
 */
export async function flowKnowledgeAssistantId(ctx: ServiceCtx, orgId: string): Promise<string | null> {
  return (await flowRow(ctx, orgId))?.knowledgeAssistantId ?? null;
}

/** The flow a turn runs on, for the chat modules (no permission check: the caller made its own). */
export async function flowForTurn(ctx: ServiceCtx, orgId: string): Promise<SalesFlow> {
  return toFlow(await ensureFlowRow(ctx, orgId));
}

/** `GET /v1/chatbot/flow`. */
export async function getFlow(ctx: ServiceCtx): Promise<FlowView> {
  assertCan(ctx, "chatbot:read");
  return flowView(await ensureFlowRow(ctx, requireOrgId(ctx)));
}

/** 422 unless `attachment` is an https URL or a key in the organisation's own R2 space. */
function attachmentProblem(orgId: string, attachment: string): string | null {
  if (/^https:\/\/[^\s]+$/.test(attachment)) return null;
  if (attachment.startsWith(orgFilesPrefix(orgId)) && !attachment.includes("..")) return null;
  return `An https URL or an R2 key under ${orgFilesPrefix(orgId)}`;
}

/**
 * `PUT /v1/chatbot/flow`: replaces the stages after checking the graph (known stages in order,
 * greeting first, only closing leads to farewell, farewell final, no promo before consultation).
 * A conversation already in a stage the new flow leaves out moves on to any stage of the new
 * flow at its next turn, as the planner proposes and the rules allow.
 */
export async function putFlow(ctx: ServiceCtx, input: PutFlowInput): Promise<FlowView> {
  assertCan(ctx, "chatbot:write");
  const orgId = requireOrgId(ctx);
  const problems = flowProblems(input.stages);
  input.stages.forEach((stage, i) => {
    const problem = stage.attachment ? attachmentProblem(orgId, stage.attachment) : null;
    if (problem) problems.push({ path: `stages.${i}.attachment`, message: problem });
  });
  if (problems.length > 0) throw new Unprocessable(problems, "The flow's stages do not form a valid sales flow");
  if (input.knowledge_assistant_id) {
    await getAssistantInOrg(ctx, input.knowledge_assistant_id).catch((error: unknown) => {
      if (!(error instanceof NotFound)) throw error;
      throw new Unprocessable([{ path: "knowledge_assistant_id", message: `No assistant ${input.knowledge_assistant_id} in this organisation` }]);
    });
  }
  const current = await ensureFlowRow(ctx, orgId);
  const stages: StoredSalesStage[] = input.stages.map((s) => ({
    name: s.name,
    goal: s.goal,
    prompt: s.prompt ?? null,
    next: s.next,
    attachment: s.attachment ?? null,
  }));
  const [row] = await ctx.db
    .update(salesFlows)
    .set({
      stages,
      knowledgeAssistantId: input.knowledge_assistant_id === undefined ? current.knowledgeAssistantId : input.knowledge_assistant_id,
      updatedAt: ctx.now(),
    })
    .where(and(eq(salesFlows.id, current.id), eq(salesFlows.orgId, orgId)))
    .returning();
  if (!row) throw new Error("sales flow update returned no row");
  await recordAudit(ctx, {
    orgId,
    action: "chatbot.flow_updated",
    targetType: "sales_flow",
    targetId: row.id,
    metadata: { stages: stages.map((s) => s.name) },
  });
  return flowView(row);
}
