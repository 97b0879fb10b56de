import { and, eq, inArray } from "drizzle-orm";
import { withTransaction } from "../../../db/client";
import { documentChunks, knowledgeDocuments } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { newId } from "../../../lib/ids";
import type { QueueJob } from "../../../queues/jobs";
import { systemActor } from "../../identity/auth/principal";
import { chunkText } from "./chunking";
import { embedChunks, vectorToBytes } from "./embeddings";
import { ExtractionError, extractText } from "./extract";
import { knowledgeIndex } from "./index-client";

export interface IngestJob extends QueueJob {
  kind: "knowledge.ingest";
  documentId: string;
  orgId: string;
}

// Rows per INSERT and chunks per index call: a 1536-d vector is 6 KiB, so this keeps each well under a few MB.
const WRITE_BATCH = 100;
// Indexing acts in the organisation only to be charged for embeddings: it needs no permission.
const INGEST_PERMISSIONS: string[] = [];

export type IngestOutcome = "ready" | "failed" | "skipped";

/**
 * Reads, chunks, embeds and indexes one document. The document is claimed first (queued or a
 * retried processing → processing), so a delivery for a deleted or already-indexed document does
 * nothing. A file that cannot give text fails the document with a reason the user sees; anything
 * else (R2, Postgres, the index, a provider) throws for the queue to retry. Chunks are replaced in
 * Postgres and in the index, so a retry after a partial run leaves no stale passages.
 */
export async function ingestDocument(base: ServiceCtx, job: Pick<IngestJob, "documentId" | "orgId">): Promise<IngestOutcome> {
  const ctx: ServiceCtx = { ...base, actor: systemActor(job.orgId, INGEST_PERMISSIONS) };
  const [doc] = await ctx.db
    .update(knowledgeDocuments)
    .set({ status: "processing", updatedAt: ctx.now() })
    .where(
      and(eq(knowledgeDocuments.id, job.documentId), eq(knowledgeDocuments.orgId, job.orgId), inArray(knowledgeDocuments.status, ["queued", "processing"])),
    )
    .returning();
  if (!doc) return "skipped";

  const object = await ctx.env.FILES.get(doc.r2Key);
  if (!object) return fail(ctx, doc.id, "The uploaded file is missing from storage; upload it again.");
  const bytes = new Uint8Array(await object.arrayBuffer());

  let extracted: Awaited<ReturnType<typeof extractText>>;
  try {
    extracted = await extractText(ctx, doc.kind, bytes, doc.filename);
  } catch (error) {
    if (error instanceof ExtractionError) return fail(ctx, doc.id, error.message);
    throw error;
  }
  const texts = chunkText(extracted.text);
  if (texts.length === 0) return fail(ctx, doc.id, "No text was found in the file.");

  const embedded = await embedChunks(ctx, texts, { feature: "knowledge.embeddings" });
  const vectors = "vectors" in embedded ? embedded.vectors : null;
  if (!vectors) ctx.log.info("knowledge document indexed for words only", { document_id: doc.id, reason: "skipped" in embedded ? embedded.skipped : null });
  const chunks = texts.map((text, ordinal) => ({ id: newId("chk"), ordinal, text, embedding: vectors?.[ordinal] ?? null }));

  await withTransaction(ctx, async (tx) => {
    await tx.delete(documentChunks).where(eq(documentChunks.documentId, doc.id));
    for (let i = 0; i < chunks.length; i += WRITE_BATCH) {
      await tx.insert(documentChunks).values(
        chunks.slice(i, i + WRITE_BATCH).map((c) => ({
          id: c.id,
          orgId: doc.orgId,
          assistantId: doc.assistantId,
          documentId: doc.id,
          ordinal: c.ordinal,
          text: c.text,
          embedding: c.embedding ? vectorToBytes(c.embedding) : null,
        })),
      );
    }
  });

  const index = knowledgeIndex(ctx, doc.assistantId);
  await index.deleteDocument(doc.id);
  for (let i = 0; i < chunks.length; i += WRITE_BATCH) {
    await index.upsertChunks(
      chunks
        .slice(i, i + WRITE_BATCH)
        .map((c) => ({ id: c.id, documentId: doc.id, title: extracted.title, text: c.text, ordinal: c.ordinal, embedding: c.embedding })),
    );
  }

  const [ready] = await ctx.db
    .update(knowledgeDocuments)
    .set({
      status: "ready",
      failureReason: null,
      title: extracted.title,
      chunks: chunks.length,
      characters: extracted.text.length,
      embeddingModel: "vectors" in embedded ? embedded.model : null,
      embeddingDimensions: "vectors" in embedded ? embedded.dimensions : null,
      indexedAt: ctx.now(),
      updatedAt: ctx.now(),
    })
    .where(and(eq(knowledgeDocuments.id, doc.id), eq(knowledgeDocuments.status, "processing")))
    .returning({ id: knowledgeDocuments.id });
  // Deleted while it was being indexed: take its passages back out.
  if (!ready) await index.deleteDocument(doc.id);
  return ready ? "ready" : "skipped";
}

/** Marks a document failed with a reason the user can act on; its passages leave the index. */
export async function fail(ctx: ServiceCtx, documentId: string, reason: string): Promise<IngestOutcome> {
  const [row] = await ctx.db
    .update(knowledgeDocuments)
    .set({ status: "failed", failureReason: reason, chunks: 0, updatedAt: ctx.now() })
    .where(eq(knowledgeDocuments.id, documentId))
    .returning({ assistantId: knowledgeDocuments.assistantId });
  if (row) {
    await ctx.db.delete(documentChunks).where(eq(documentChunks.documentId, documentId));
    await knowledgeIndex(ctx, row.assistantId).deleteDocument(documentId);
  }
  return "failed";
}
