import type { ServiceCtx } from "../../../lib/context";

/**
 * The conversation's SalesConversation Durable Object, named by its id. Callers pass a
 * conversation they have already found in the active organisation, so a tenant only reaches its own.
 */
export function conversationMemory(ctx: ServiceCtx, conversationId: string) {
  const namespace = ctx.env.SALES_CONVERSATION;
  return namespace.get(namespace.idFromName(conversationId));
}

export type ConversationMemory = ReturnType<typeof conversationMemory>;

/**
 * Runs `work` while holding the conversation's turn lock: turns, staff replies and takeovers of
 * one conversation happen one at a time, in the order they asked. The lock is released when
 * `work` ends, however it ends.
 */
export async function withConversationTurn<T>(ctx: ServiceCtx, conversationId: string, work: (memory: ConversationMemory) => Promise<T>): Promise<T> {
  const memory = conversationMemory(ctx, conversationId);
  const token = await memory.beginTurn();
  try {
    return await work(memory);
  } finally {
    await memory.endTurn(token);
  }
}
