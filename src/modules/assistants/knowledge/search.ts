import { and, eq, inArray, isNotNull } from "drizzle-orm";
import { knowledgeDocuments } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { assertCan, requireOrgId } from "../../identity/auth/principal";
import { getAssistantInOrg } from "../assistants/service";
import { embedQuery } from "./embeddings";
import { knowledgeIndex } from "./index-client";
import type { SearchInput, SearchMode } from "./schemas";

export interface KnowledgeHit {
  document_id: string;
  filename: string;
  chunk_id: string;
  score: number;
  snippet: string;
}

export interface KnowledgeAnswer {
  mode: SearchMode;
  data: KnowledgeHit[];
}

/**
 * The passages of an assistant's documents that best answer `q`. Hybrid (default) fuses word
 * and meaning rankings; the query is embedded only when some ready document has embeddings, and
 * a failed or unaffordable embedding quietly searches by words (`mode` says which was used).
 * Callable without HTTP (calls, chats) with a ctx for the assistant's organisation.
 */
export async function searchKnowledge(ctx: ServiceCtx, assistantId: string, input: SearchInput): Promise<KnowledgeAnswer> {
  assertCan(ctx, "assistants:read");
  const orgId = requireOrgId(ctx);
  const assistant = await getAssistantInOrg(ctx, assistantId);
  const embedding = input.mode !== "lexical" && (await hasEmbeddings(ctx, orgId, assistant.id)) ? await embedQuery(ctx, input.q) : null;
  const result = await knowledgeIndex(ctx, assistant.id).search({ query: input.q, k: input.k, embedding, mode: input.mode });
  const documentIds = [...new Set(result.hits.map((h) => h.documentId))];
  // Names come from Postgres, which also drops any passage of a document deleted meanwhile.
  const names = new Map<string, string>();
  if (documentIds.length > 0) {
    const rows = await ctx.db
      .select({ id: knowledgeDocuments.id, filename: knowledgeDocuments.filename })
      .from(knowledgeDocuments)
      .where(and(eq(knowledgeDocuments.orgId, orgId), eq(knowledgeDocuments.assistantId, assistant.id), inArray(knowledgeDocuments.id, documentIds)));
    for (const row of rows) names.set(row.id, row.filename);
  }
  return {
    mode: result.mode,
    data: result.hits.flatMap((hit) => {
      const filename = names.get(hit.documentId);
      return filename === undefined ? [] : [{ document_id: hit.documentId, filename, chunk_id: hit.chunkId, score: hit.score, snippet: hit.text }];
    }),
  };
}

async function hasEmbeddings(ctx: ServiceCtx, orgId: string, assistantId: string): Promise<boolean> {
  const [row] = await ctx.db
    .select({ id: knowledgeDocuments.id })
    .from(knowledgeDocuments)
    .where(
      and(
        eq(knowledgeDocuments.orgId, orgId),
        eq(knowledgeDocuments.assistantId, assistantId),
        eq(knowledgeDocuments.status, "ready"),
        isNotNull(knowledgeDocuments.embeddingModel),
      ),
    )
    .limit(1);
  return row !== undefined;
}
