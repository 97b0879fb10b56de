import { and, asc, desc, eq, gt, inArray, type SQL } from "drizzle-orm";
import { withTransaction } from "../../../db/client";
import { type DocumentKind, documentChunks, knowledgeDocuments } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { sha256Hex } from "../../../lib/crypto";
import { Conflict, NotFound, Unprocessable, UnsupportedMediaType } from "../../../lib/errors";
import { newId } from "../../../lib/ids";
import { type Page, type PageRequest, toPage } from "../../../lib/pagination";
import { assertCan, requireOrgId } from "../../identity/auth/principal";
import { getAssistantInOrg } from "../assistants/service";
import { bytesToVector } from "./embeddings";
import { knowledgeIndex } from "./index-client";
import type { IngestJob } from "./ingest";
import type { DocumentView } from "./schemas";
import { sniffKind } from "./sniff";

/** Files one upload may carry. */
export const MAX_FILES_PER_UPLOAD = 10;
const FILENAME_MAX = 255;
// Chunks read from Postgres and written to the index per round trip when rebuilding.
const REBUILD_PAGE = 500;

type DocumentRow = typeof knowledgeDocuments.$inferSelect;

export function documentView(row: DocumentRow): DocumentView {
  return {
    id: row.id,
    assistant_id: row.assistantId,
    filename: row.filename,
    title: row.title,
    kind: row.kind,
    size_bytes: row.sizeBytes,
    sha256: row.sha256,
    status: row.status,
    failure_reason: row.failureReason,
    chunks: row.chunks,
    characters: row.characters,
    embedding_model: row.embeddingModel,
    embedding_dimensions: row.embeddingDimensions,
    indexed_at: row.indexedAt?.toISOString() ?? null,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

/** Where a document's original bytes live: under its organisation, so one prefix holds all of a tenant's files. */
export function documentKey(orgId: string, assistantId: string, documentId: string): string {
  return `orgs/${orgId}/assistants/${assistantId}/documents/${documentId}`;
}

/** A name safe to show and store: no directories, no control characters, not empty. */
function cleanFilename(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? "";
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is removed
  const clean = base.replace(/[\u0000-\u001f\u007f]/g, "").trim();
  return (clean || "document").slice(0, FILENAME_MAX);
}

/** An uploaded file that passed the checks, ready to store. */
export interface CheckedFile {
  bytes: Uint8Array;
  filename: string;
  kind: DocumentKind;
  contentType: string;
  sha256: string;
}

const CONTENT_TYPES: Record<CheckedFile["kind"], string> = { pdf: "application/pdf", html: "text/html", md: "text/markdown", txt: "text/plain" };

/**
 * The checks of an upload, made before anything is stored so a bad file refuses all of them:
 * none, too many, empty or too large → 422, not PDF/text/Markdown/HTML by its content → 415,
 * each naming `files[i]`.
 */
export async function checkDocumentFiles(ctx: ServiceCtx, files: File[]): Promise<CheckedFile[]> {
  if (files.length === 0) throw new Unprocessable([{ path: "files", message: "attach at least one file as multipart field `files`" }]);
  if (files.length > MAX_FILES_PER_UPLOAD) throw new Unprocessable([{ path: "files", message: `at most ${MAX_FILES_PER_UPLOAD} files per upload` }]);
  const maxBytes = ctx.config.knowledge.maxFileBytes;
  const checked: CheckedFile[] = [];
  const unsupported: { path: string; message: string }[] = [];
  for (const [index, file] of files.entries()) {
    const path = `files[${index}]`;
    if (file.size === 0) throw new Unprocessable([{ path, message: "the file is empty" }]);
    if (file.size > maxBytes) throw new Unprocessable([{ path, message: `the file is ${file.size} bytes; at most ${maxBytes} are accepted` }]);
    const bytes = new Uint8Array(await file.arrayBuffer());
    const filename = cleanFilename(file.name);
    const kind = sniffKind(bytes, filename);
    if (!kind) {
      unsupported.push({ path, message: `${filename} is not a PDF, plain text, Markdown or HTML file` });
      continue;
    }
    checked.push({ bytes, filename, kind, contentType: CONTENT_TYPES[kind], sha256: await sha256Hex(bytes) });
  }
  if (unsupported.length > 0) throw new UnsupportedMediaType(unsupported, "Knowledge documents are PDF, plain text, Markdown or HTML");
  return checked;
}

/**
 * Stores uploaded files of an assistant's knowledge base and queues each for indexing, after the
 * checks of `checkDocumentFiles`. The originals go to R2, the rows to Postgres, one ingest job
 * per document to the queue.
 */
export async function uploadDocuments(ctx: ServiceCtx, assistantId: string, files: File[]): Promise<DocumentView[]> {
  assertCan(ctx, "assistants:write");
  const assistant = await getAssistantInOrg(ctx, assistantId);
  if (assistant.status !== "active") throw new Conflict(`Assistant ${assistant.id} is archived; restore it before adding documents`);
  return storeDocuments(ctx, assistant.id, await checkDocumentFiles(ctx, files));
}

/** Stores files already checked (`checkDocumentFiles`) in an assistant of the caller's organisation. */
export async function storeDocuments(ctx: ServiceCtx, assistantId: string, files: CheckedFile[]): Promise<DocumentView[]> {
  if (files.length === 0) return [];
  const orgId = requireOrgId(ctx);
  const now = ctx.now();
  const prepared = files.map((file) => {
    const id = newId("doc");
    const row: typeof knowledgeDocuments.$inferInsert = {
      id,
      orgId,
      assistantId,
      filename: file.filename,
      kind: file.kind,
      sizeBytes: file.bytes.length,
      sha256: file.sha256,
      r2Key: documentKey(orgId, assistantId, id),
      status: "queued",
      createdAt: now,
      updatedAt: now,
    };
    return { row, file };
  });

  // Originals first: a row never points at a file that is not there.
  await Promise.all(prepared.map(({ row, file }) => ctx.env.FILES.put(row.r2Key, file.bytes, { httpMetadata: { contentType: file.contentType } })));
  let rows: DocumentRow[];
  try {
    rows = await ctx.db
      .insert(knowledgeDocuments)
      .values(prepared.map((p) => p.row))
      .returning();
  } catch (error) {
    await ctx.env.FILES.delete(prepared.map((p) => p.row.r2Key)).catch(() => undefined);
    throw error;
  }
  await enqueueIngest(ctx, rows);
  return rows.map(documentView);
}

/** The assistant's documents with these contents (the oldest of each), by SHA-256. */
export async function documentsBySha256(ctx: ServiceCtx, assistantId: string, hashes: string[]): Promise<Map<string, DocumentView>> {
  const rows = await ctx.db
    .select()
    .from(knowledgeDocuments)
    .where(and(eq(knowledgeDocuments.orgId, requireOrgId(ctx)), eq(knowledgeDocuments.assistantId, assistantId), inArray(knowledgeDocuments.sha256, hashes)))
    .orderBy(desc(knowledgeDocuments.id));
  return new Map(rows.map((row) => [row.sha256, documentView(row)]));
}

/** One ingest job per document (at most 100: the queue's batch limit). */
export async function enqueueIngest(ctx: ServiceCtx, rows: Pick<DocumentRow, "id" | "orgId">[]): Promise<void> {
  const jobs: IngestJob[] = rows.map((row) => ({ kind: "knowledge.ingest", documentId: row.id, orgId: row.orgId }));
  await ctx.env.INGEST.sendBatch(jobs.map((body) => ({ body })));
}

/** The assistant's documents, oldest first, optionally of one status. */
export async function listDocuments(
  ctx: ServiceCtx,
  assistantId: string,
  query: PageRequest & { status?: DocumentRow["status"] },
): Promise<Page<DocumentView>> {
  assertCan(ctx, "assistants:read");
  const orgId = requireOrgId(ctx);
  const assistant = await getAssistantInOrg(ctx, assistantId);
  const filters: SQL[] = [eq(knowledgeDocuments.orgId, orgId), eq(knowledgeDocuments.assistantId, assistant.id)];
  if (query.status) filters.push(eq(knowledgeDocuments.status, query.status));
  if (query.cursor) filters.push(gt(knowledgeDocuments.id, query.cursor));
  const rows = await ctx.db
    .select()
    .from(knowledgeDocuments)
    .where(and(...filters))
    .orderBy(asc(knowledgeDocuments.id))
    .limit(query.limit + 1);
  return toPage(rows, query.limit, (row) => row.id, documentView);
}

// What our document ids look like: anything else cannot exist, and never reaches the database.
const DOCUMENT_ID = /^doc_[0-9A-Za-z]{1,64}$/;

async function documentRow(ctx: ServiceCtx, assistantId: string, documentId: string): Promise<DocumentRow> {
  if (!DOCUMENT_ID.test(documentId)) throw new NotFound("document", documentId.slice(0, 100).replaceAll("\u0000", ""));
  const orgId = requireOrgId(ctx);
  const assistant = await getAssistantInOrg(ctx, assistantId);
  const [row] = await ctx.db
    .select()
    .from(knowledgeDocuments)
    .where(and(eq(knowledgeDocuments.id, documentId), eq(knowledgeDocuments.orgId, orgId), eq(knowledgeDocuments.assistantId, assistant.id)));
  if (!row) throw new NotFound("document", documentId);
  return row;
}

export async function getDocument(ctx: ServiceCtx, assistantId: string, documentId: string): Promise<DocumentView> {
  assertCan(ctx, "assistants:read");
  return documentView(await documentRow(ctx, assistantId, documentId));
}

/** Deletes a document: its row and chunks (cascade), its original in R2, its passages in the index. */
export async function deleteDocument(ctx: ServiceCtx, assistantId: string, documentId: string): Promise<void> {
  assertCan(ctx, "assistants:write");
  const row = await documentRow(ctx, assistantId, documentId);
  await ctx.db.delete(knowledgeDocuments).where(eq(knowledgeDocuments.id, row.id));
  await Promise.all([ctx.env.FILES.delete(row.r2Key), knowledgeIndex(ctx, row.assistantId).deleteDocument(row.id)]);
}

/** Queues a document to be read and indexed again (after a failure, or with embeddings configured since). */
export async function reindexDocument(ctx: ServiceCtx, assistantId: string, documentId: string): Promise<DocumentView> {
  assertCan(ctx, "assistants:write");
  const row = await documentRow(ctx, assistantId, documentId);
  const [queued] = await ctx.db
    .update(knowledgeDocuments)
    .set({ status: "queued", failureReason: null, requeues: 0, updatedAt: ctx.now() })
    .where(eq(knowledgeDocuments.id, row.id))
    .returning();
  if (!queued) throw new NotFound("document", documentId);
  await enqueueIngest(ctx, [queued]);
  return documentView(queued);
}

/** Queues every document of the assistant to be read and indexed again. */
export async function reindexAllDocuments(ctx: ServiceCtx, assistantId: string): Promise<{ queued: number }> {
  assertCan(ctx, "assistants:write");
  const orgId = requireOrgId(ctx);
  const assistant = await getAssistantInOrg(ctx, assistantId);
  const queued = await ctx.db
    .update(knowledgeDocuments)
    .set({ status: "queued", failureReason: null, requeues: 0, updatedAt: ctx.now() })
    .where(and(eq(knowledgeDocuments.orgId, orgId), eq(knowledgeDocuments.assistantId, assistant.id)))
    .returning();
  // sendBatch takes at most 100 messages.
  for (let i = 0; i < queued.length; i += 100) await enqueueIngest(ctx, queued.slice(i, i + 100));
  return { queued: queued.length };
}

/**
 * Builds the assistant's index again from the chunks in Postgres (their text and stored
 * embeddings): no file is read and no embeddings are bought. For an index lost or out of step.
 * The pages are read over one WebSocket connection (a read transaction), not one HTTP request
 * each: a page of 500 chunks with 1,536-d vectors is some 6 MB of hex text, near Neon's HTTP
 * response limit, and under wrangler dev every 4 KB of an HTTP response is also reported to the
 * devtools proxy (a loopback connection each: 20k chunks made 60k connections and stalled it).
 */
export async function rebuildIndex(ctx: ServiceCtx, assistantId: string): Promise<{ chunks: number; documents: number; vectors: number }> {
  assertCan(ctx, "assistants:write");
  const orgId = requireOrgId(ctx);
  const assistant = await getAssistantInOrg(ctx, assistantId);
  const index = knowledgeIndex(ctx, assistant.id);
  await index.reset();
  const documents = new Set<string>();
  let chunks = 0;
  let vectors = 0;
  await withTransaction(ctx, async (tx) => {
    let cursor = "";
    for (;;) {
      const page = await tx
        .select({
          id: documentChunks.id,
          documentId: documentChunks.documentId,
          ordinal: documentChunks.ordinal,
          text: documentChunks.text,
          embedding: documentChunks.embedding,
          title: knowledgeDocuments.title,
        })
        .from(documentChunks)
        .innerJoin(knowledgeDocuments, eq(knowledgeDocuments.id, documentChunks.documentId))
        .where(
          and(
            eq(documentChunks.orgId, orgId),
            eq(documentChunks.assistantId, assistant.id),
            eq(knowledgeDocuments.status, "ready"),
            gt(documentChunks.id, cursor),
          ),
        )
        .orderBy(asc(documentChunks.id))
        .limit(REBUILD_PAGE);
      if (page.length === 0) break;
      await index.upsertChunks(
        page.map((c) => ({
          id: c.id,
          documentId: c.documentId,
          title: c.title,
          text: c.text,
          ordinal: c.ordinal,
          embedding: c.embedding ? bytesToVector(c.embedding) : null,
        })),
      );
      for (const c of page) {
        documents.add(c.documentId);
        if (c.embedding) vectors++;
      }
      chunks += page.length;
      cursor = page[page.length - 1]?.id ?? cursor;
    }
  });
  return { chunks, documents: documents.size, vectors };
}
