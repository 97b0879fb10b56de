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
 * `work` ends, however it ends: the whole of it is kept alive with `waitUntil`, because a client
 * that disconnects cancels its request's work, and a cancelled turn would otherwise keep the
 * conversation locked until the lease ran out.
 */
export function withConversationTurn<T>(ctx: ServiceCtx, conversationId: string, work: (memory: ConversationMemory) => Promise<T>): Promise<T> {
  const memory = conversationMemory(ctx, conversationId);
  const run = (async () => {
    const token = await memory.beginTurn();
    try {
      return await work(memory);
    } finally {
      await memory.endTurn(token);
    }
  })();
  ctx.waitUntil(run.catch(() => {}));
  return run;
}
