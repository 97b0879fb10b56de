import { and, asc, desc, eq, inArray, lt, sql } from "drizzle-orm";
import { type SalesChannel, type SalesMessageRole, type SalesOrder, salesConversations, salesMessages } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { Conflict, NotFound } from "../../../lib/errors";
import { newId } from "../../../lib/ids";
import type { Page } from "../../../lib/pagination";
import { toPage } from "../../../lib/pagination";
import { recordAudit } from "../../identity/audit/service";
import { assertCan, requireOrgId } from "../../identity/auth/principal";
import { recordOwnAgentEvent } from "../../usage/events/service";
import { relayStaffReply } from "../channels/replies";
import type { StageName } from "../flows/rules";
import type { SalesFlow } from "../flows/service";
import { flowForTurn } from "../flows/service";
import { conversationMemory, withConversationTurn } from "./memory";
import type { ContactHistoryView, ConversationDetailView, ConversationListInput, ConversationView } from "./schemas";

export type ConversationRow = typeof salesConversations.$inferSelect;

export function conversationView(row: ConversationRow): ConversationView {
  return {
    id: row.id,
    contact_id: row.contactId,
    channel: row.channel,
    title: row.title,
    stage: row.stage as StageName,
    mode: row.mode,
    taken_over_by: row.takenOverBy,
    order: row.order ?? null,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

/** A conversation of the organisation; 404 for any other. */
export async function getConversationRow(ctx: ServiceCtx, orgId: string, id: string): Promise<ConversationRow> {
  const [row] = await ctx.db
    .select()
    .from(salesConversations)
    .where(and(eq(salesConversations.id, id), eq(salesConversations.orgId, orgId)));
  if (!row) throw new NotFound("conversation", id);
  return row;
}

export interface StartConversation {
  contactId: string;
  channel: SalesChannel;
  title?: string | null;
}

/**
 * A new conversation in the flow's first stage, recorded as an activity of the flow's usage agent
 * (the conversation id is the event id, so it counts once). A refused activity (the agent's
 * period already invoiced) is logged and the conversation goes on.
 */
export async function startConversation(ctx: ServiceCtx, flow: SalesFlow, input: StartConversation): Promise<ConversationRow> {
  const now = ctx.now();
  const [row] = await ctx.db
    .insert(salesConversations)
    .values({
      id: newId("scv"),
      orgId: flow.orgId,
      contactId: input.contactId,
      channel: input.channel,
      title: input.title ?? null,
      stage: flow.stages[0]?.name ?? "greeting",
      createdAt: now,
      updatedAt: now,
    })
    .returning();
  if (!row) throw new Error("conversation insert returned no row");
  try {
    await recordOwnAgentEvent(ctx, flow.agentId, {
      kind: "activity",
      id: row.id,
      type: "conversation",
      occurred_at: now,
      metadata: { conversation_id: row.id, channel: row.channel },
    });
  } catch (error) {
    ctx.log.warn("conversation activity not recorded", { conversation_id: row.id, error: error instanceof Error ? error.message : String(error) });
  }
  return row;
}

export interface NewMessage {
  role: SalesMessageRole;
  content: string;
  stage: string;
  authorUserId?: string | null;
}

/**
 * Appends messages after the conversation's last one. Called under the conversation's turn lock,
 * so `seq` never races; the unique (conversation, seq) index would refuse it if it did.
 */
export async function appendMessages(ctx: ServiceCtx, row: ConversationRow, messages: NewMessage[]): Promise<void> {
  if (messages.length === 0) return;
  const now = ctx.now();
  // One statement: each row's subquery sees the conversation as it was before the insert.
  const after = (i: number) =>
    sql<number>`(select coalesce(max(${salesMessages.seq}), 0) + ${i + 1} from ${salesMessages} where ${salesMessages.conversationId} = ${row.id})`;
  await ctx.db.insert(salesMessages).values(
    messages.map((m, i) => ({
      id: newId("smg"),
      orgId: row.orgId,
      conversationId: row.id,
      seq: after(i),
      role: m.role,
      content: m.content,
      stage: m.stage,
      authorUserId: m.authorUserId ?? null,
      // Apart by a millisecond each, so `at` orders them as `seq` does.
      createdAt: new Date(now.getTime() + i),
    })),
  );
}

/** Moves the conversation's row along after a turn: its stage, its order once agreed, a title from the first message. */
export async function updateAfterTurn(
  ctx: ServiceCtx,
  row: ConversationRow,
  change: { stage: string; title?: string; order?: SalesOrder; saleClosedAt?: Date },
): Promise<void> {
  await ctx.db
    .update(salesConversations)
    .set({
      stage: change.stage,
      updatedAt: ctx.now(),
      ...(change.title && !row.title ? { title: change.title } : {}),
      ...(change.order ? { order: change.order, saleClosedAt: change.saleClosedAt ?? ctx.now() } : {}),
    })
    .where(and(eq(salesConversations.id, row.id), eq(salesConversations.orgId, row.orgId)));
}

// ------------------------------------------------------------------ routes' services

/** `GET /v1/chatbot/conversations`: newest first, optionally of one contact. */
export async function listConversations(ctx: ServiceCtx, query: ConversationListInput): Promise<Page<ConversationView>> {
  assertCan(ctx, "chatbot:read");
  const orgId = requireOrgId(ctx);
  const rows = await ctx.db
    .select()
    .from(salesConversations)
    .where(
      and(
        eq(salesConversations.orgId, orgId),
        query.contact_id ? eq(salesConversations.contactId, query.contact_id) : undefined,
        query.cursor ? lt(salesConversations.id, query.cursor) : undefined,
      ),
    )
    .orderBy(desc(salesConversations.id))
    .limit(query.limit + 1);
  return toPage(rows, query.limit, (r) => r.id, conversationView);
}

/** `POST /v1/chatbot/conversations`: an empty web conversation, its first turn still to come. */
export async function createConversation(ctx: ServiceCtx, input: { contact_id?: string; title?: string }): Promise<ConversationView> {
  assertCan(ctx, "chatbot:write");
  const orgId = requireOrgId(ctx);
  const flow = await flowForTurn(ctx, orgId);
  const row = await startConversation(ctx, flow, { contactId: input.contact_id ?? newId("vis"), channel: "web", title: input.title ?? null });
  return conversationView(row);
}

const MAX_DETAIL_MESSAGES = 1000;

/** `GET /v1/chatbot/conversations/{id}`: the conversation with its messages. */
export async function getConversation(ctx: ServiceCtx, id: string): Promise<ConversationDetailView> {
  assertCan(ctx, "chatbot:read");
  const orgId = requireOrgId(ctx);
  const row = await getConversationRow(ctx, orgId, id);
  const messages = await ctx.db
    .select()
    .from(salesMessages)
    .where(and(eq(salesMessages.orgId, orgId), eq(salesMessages.conversationId, id)))
    .orderBy(asc(salesMessages.seq))
    .limit(MAX_DETAIL_MESSAGES);
  return {
    ...conversationView(row),
    messages: messages.map((m) => ({ role: m.role, content: m.content, stage: m.stage, at: m.createdAt.toISOString() })),
  };
}

/** `PATCH /v1/chatbot/conversations/{id}`: sets or clears the title. */
export async function renameConversation(ctx: ServiceCtx, id: string, title: string | null): Promise<ConversationView> {
  assertCan(ctx, "chatbot:write");
  const orgId = requireOrgId(ctx);
  const [row] = await ctx.db
    .update(salesConversations)
    .set({ title, updatedAt: ctx.now() })
    .where(and(eq(salesConversations.id, id), eq(salesConversations.orgId, orgId)))
    .returning();
  if (!row) throw new NotFound("conversation", id);
  return conversationView(row);
}

async function deleteRows(ctx: ServiceCtx, orgId: string, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  // Messages go with their conversation (ON DELETE CASCADE); the objects forget their memory.
  await ctx.db.delete(salesConversations).where(and(eq(salesConversations.orgId, orgId), inArray(salesConversations.id, ids)));
  await Promise.all(ids.map((id) => conversationMemory(ctx, id).forget()));
}

/** `DELETE /v1/chatbot/conversations/{id}`: the conversation, its messages and its memory. */
export async function deleteConversation(ctx: ServiceCtx, id: string): Promise<void> {
  assertCan(ctx, "chatbot:write");
  const orgId = requireOrgId(ctx);
  await getConversationRow(ctx, orgId, id);
  await deleteRows(ctx, orgId, [id]);
  await recordAudit(ctx, { orgId, action: "chatbot.conversation_deleted", targetType: "sales_conversation", targetId: id });
}

const MAX_HISTORY_MESSAGES = 1000;

/** 404 unless the organisation has a conversation with `contactId` (another organisation's contacts do not exist here). */
async function assertKnownContact(ctx: ServiceCtx, orgId: string, contactId: string): Promise<void> {
  const [row] = await ctx.db
    .select({ id: salesConversations.id })
    .from(salesConversations)
    .where(and(eq(salesConversations.orgId, orgId), eq(salesConversations.contactId, contactId)))
    .limit(1);
  if (!row) throw new NotFound("contact", contactId);
}

/** `GET /v1/chatbot/contacts/{contact_id}/history`: the contact's latest messages across conversations, oldest first; 404 for a contact the organisation never talked to. */
export async function contactHistory(ctx: ServiceCtx, contactId: string): Promise<ContactHistoryView> {
  assertCan(ctx, "chatbot:read");
  const orgId = requireOrgId(ctx);
  const rows = await ctx.db
    .select({ message: salesMessages })
    .from(salesMessages)
    .innerJoin(salesConversations, and(eq(salesConversations.id, salesMessages.conversationId), eq(salesConversations.orgId, orgId)))
    .where(and(eq(salesMessages.orgId, orgId), eq(salesConversations.contactId, contactId)))
    .orderBy(desc(salesMessages.createdAt), desc(salesMessages.seq))
    .limit(MAX_HISTORY_MESSAGES);
  if (rows.length === 0) await assertKnownContact(ctx, orgId, contactId);
  return {
    contact_id: contactId,
    messages: rows.reverse().map(({ message: m }) => ({
      conversation_id: m.conversationId,
      role: m.role,
      content: m.content,
      stage: m.stage,
      at: m.createdAt.toISOString(),
    })),
  };
}

/** `DELETE /v1/chatbot/contacts/{contact_id}/history`: every conversation with the contact (a visitor's right to be forgotten). */
export async function deleteContactHistory(ctx: ServiceCtx, contactId: string): Promise<void> {
  assertCan(ctx, "chatbot:write");
  const orgId = requireOrgId(ctx);
  const rows = await ctx.db
    .select({ id: salesConversations.id })
    .from(salesConversations)
    .where(and(eq(salesConversations.orgId, orgId), eq(salesConversations.contactId, contactId)));
  if (rows.length === 0) throw new NotFound("contact", contactId);
  await deleteRows(
    ctx,
    orgId,
    rows.map((r) => r.id),
  );
  await recordAudit(ctx, { orgId, action: "chatbot.contact_history_deleted", targetType: "sales_contact", metadata: { conversations: rows.length } });
}

// ------------------------------------------------------------------ takeover

async function setMode(ctx: ServiceCtx, id: string, mode: "bot" | "human"): Promise<ConversationView> {
  assertCan(ctx, "chatbot:write");
  const orgId = requireOrgId(ctx);
  await getConversationRow(ctx, orgId, id);
  // Under the turn lock: a turn already running finishes as the bot, the next one sees the new mode.
  const row = await withConversationTurn(ctx, id, async () => {
    const [updated] = await ctx.db
      .update(salesConversations)
      .set(
        mode === "human"
          ? { mode, takenOverBy: ctx.actor?.userId ?? null, takenOverAt: ctx.now(), updatedAt: ctx.now() }
          : { mode, takenOverBy: null, takenOverAt: null, updatedAt: ctx.now() },
      )
      .where(and(eq(salesConversations.id, id), eq(salesConversations.orgId, orgId)))
      .returning();
    if (!updated) throw new NotFound("conversation", id);
    return updated;
  });
  await recordAudit(ctx, {
    orgId,
    action: mode === "human" ? "chatbot.conversation_taken_over" : "chatbot.conversation_released",
    targetType: "sales_conversation",
    targetId: id,
  });
  return conversationView(row);
}

/** `POST .../{id}/takeover`: the bot pauses; the contact's messages are kept, nobody answers them but staff. */
export function takeOverConversation(ctx: ServiceCtx, id: string): Promise<ConversationView> {
  return setMode(ctx, id, "human");
}

/** `POST .../{id}/release`: the bot answers again, from the stage the conversation is in. */
export function releaseConversation(ctx: ServiceCtx, id: string): Promise<ConversationView> {
  return setMode(ctx, id, "bot");
}

/** `POST .../{id}/reply`: a staff member's message to the contact; 409 unless the conversation is taken over. */
export async function staffReply(ctx: ServiceCtx, id: string, content: string): Promise<ConversationDetailView> {
  assertCan(ctx, "chatbot:write");
  const orgId = requireOrgId(ctx);
  await getConversationRow(ctx, orgId, id);
  await withConversationTurn(ctx, id, async (memory) => {
    const row = await getConversationRow(ctx, orgId, id);
    if (row.mode !== "human") throw new Conflict("The bot is answering this conversation: take it over first (POST .../takeover)");
    await appendMessages(ctx, row, [{ role: "staff", content, stage: row.stage, authorUserId: ctx.actor?.userId ?? null }]);
    const snapshot = await memory.snapshot();
    await memory.commit({ stage: snapshot.stage, visited: snapshot.visited, messages: [{ role: "staff", content, stage: row.stage }] });
    await relayStaffReply(ctx, row, content);
    await ctx.db
      .update(salesConversations)
      .set({ updatedAt: ctx.now() })
      .where(and(eq(salesConversations.id, id), eq(salesConversations.orgId, orgId)));
  });
  return getConversation(ctx, id);
}
