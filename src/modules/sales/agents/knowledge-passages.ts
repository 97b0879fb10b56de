import type { ServiceCtx } from "../../../lib/context";
import type { KnowledgeHit } from "../../assistants/knowledge/search";
import { searchKnowledge } from "../../assistants/knowledge/search";
import { systemActor } from "../../identity/auth/principal";

const MAX_PASSAGES = 5;

/**
 * The passages of the assistant's knowledge base that best answer `query`, read with a
 * read-only actor of the organisation (the chatbot quotes what its business wrote).
 */
export async function findPassages(ctx: ServiceCtx, orgId: string, assistantId: string, query: string): Promise<KnowledgeHit[]> {
  const reader: ServiceCtx = { ...ctx, actor: systemActor(orgId, ["assistants:read"]) };
  const answer = await searchKnowledge(reader, assistantId, { q: query, k: MAX_PASSAGES, mode: "hybrid" });
  return answer.data;
}

/** The passages for a model's instructions; says plainly when none was found. */
export function passagesText(query: string, passages: KnowledgeHit[]): string {
  if (passages.length === 0) return `The knowledge base has nothing about "${query}". Say you do not know.`;
  return passages.map((p, i) => `[${i + 1}] (${p.filename}) ${p.snippet}`).join("\n");
}
