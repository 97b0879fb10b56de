import type { ServiceCtx } from "../../../lib/context";

/**
 * The assistant's KnowledgeBase Durable Object: one per assistant, named by its id. Callers pass
 * an assistant they have already found in the active organisation, so a tenant only ever reaches
 * its own assistants' indexes.
 */
export function knowledgeIndex(ctx: ServiceCtx, assistantId: string) {
  const namespace = ctx.env.KNOWLEDGE_BASE;
  return namespace.get(namespace.idFromName(assistantId));
}
