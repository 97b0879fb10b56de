import { z } from "@hono/zod-openapi";
import { DOCUMENT_KINDS, DOCUMENT_STATUSES } from "../../../db/schema";
import { pathId } from "../../../lib/openapi";
import { pageQuery, pageSchema } from "../../../lib/pagination";
import { ASSISTANT_ID_EXAMPLE } from "../assistants/schemas";

const DOCUMENT_ID_EXAMPLE = "doc_01JF3Q3M7Y2N8V0K4R6T9W1XZA";

export const DocumentSchema = z
  .object({
    id: z.string().openapi({ example: DOCUMENT_ID_EXAMPLE }),
    assistant_id: z.string().openapi({ example: ASSISTANT_ID_EXAMPLE }),
    filename: z.string().openapi({ example: "price-list.pdf" }),
    title: z.string().nullable().openapi({ description: "Found in the content (PDF title, HTML <title>, first heading or line)", example: "Price list 2027" }),
    kind: z.enum(DOCUMENT_KINDS).openapi({ description: "Decided from the content, not from the file name", example: "pdf" }),
    size_bytes: z.number().int().openapi({ example: 48213 }),
    sha256: z.string().openapi({ description: "Of the uploaded bytes", example: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" }),
    status: z.enum(DOCUMENT_STATUSES).openapi({ description: "queued → processing → ready, or failed with `failure_reason`", example: "ready" }),
    failure_reason: z.string().nullable().openapi({ example: null }),
    chunks: z.number().int().openapi({ description: "Passages indexed", example: 42 }),
    characters: z.number().int().openapi({ description: "Characters of text extracted", example: 19876 }),
    embedding_model: z
      .string()
      .nullable()
      .openapi({ description: "Null when indexed for words only (no embeddings key, or no credits)", example: "text-embedding-3-large" }),
    embedding_dimensions: z.number().int().nullable().openapi({ example: 1536 }),
    indexed_at: z.string().nullable().openapi({ example: "2026-12-03T08:00:00.000Z" }),
    created_at: z.string().openapi({ example: "2026-12-03T07:59:58.000Z" }),
    updated_at: z.string().openapi({ example: "2026-12-03T08:00:00.000Z" }),
  })
  .openapi("KnowledgeDocument");

export const UploadedDocuments = z
  .object({
    data: z
      .array(
        z.object({
          id: z.string().openapi({ example: DOCUMENT_ID_EXAMPLE }),
          filename: z.string().openapi({ example: "faq.md" }),
          status: z.enum(DOCUMENT_STATUSES),
        }),
      )
      .openapi({ description: "One entry per uploaded file, in upload order; each is indexed in the background" }),
  })
  .openapi("UploadedDocuments");

export const DocumentList = pageSchema(DocumentSchema, "KnowledgeDocumentList", { data: "Documents, oldest first" });
export const DocumentListQuery = pageQuery({ defaultLimit: 50, cursorExample: DOCUMENT_ID_EXAMPLE }).extend({
  status: z.enum(DOCUMENT_STATUSES).optional().openapi({ description: "Only documents in this state", example: "failed" }),
});

export const DocumentIdParam = z.object({
  id: z
    .string()
    .max(100)
    .openapi({ param: { name: "id", in: "path" }, description: "Assistant id", example: ASSISTANT_ID_EXAMPLE }),
  document_id: pathId("document_id", "doc", "Document id", DOCUMENT_ID_EXAMPLE),
});

export const SEARCH_MODES = ["hybrid", "lexical", "vector"] as const;
export type SearchMode = (typeof SEARCH_MODES)[number];

export const SearchQuery = z.object({
  q: z
    .string()
    .trim()
    .min(1)
    .max(1000)
    .refine((q) => !q.includes("\u0000"), "must not contain NUL")
    .openapi({ description: "What to look for, in plain words", example: "parking on weekends" }),
  k: z.coerce.number().int().min(1).max(100).default(10).openapi({ description: "Passages to return, 1 to 100", example: 10 }),
  mode: z
    .enum(SEARCH_MODES)
    .default("hybrid")
    .openapi({ description: "hybrid (words and meaning, fused) falls back to lexical when the documents have no embeddings", example: "hybrid" }),
});

export const SearchResult = z
  .object({
    mode: z.enum(SEARCH_MODES).openapi({ description: "The mode actually used", example: "hybrid" }),
    data: z.array(
      z.object({
        document_id: z.string().openapi({ example: DOCUMENT_ID_EXAMPLE }),
        filename: z.string().openapi({ example: "faq.md" }),
        chunk_id: z.string().openapi({ example: "chk_01JF3Q3M7Y2N8V0K4R6T9W1XZB" }),
        score: z.number().openapi({ description: "Higher is better; comparable within one answer only", example: 0.0325 }),
        snippet: z.string().openapi({ description: "The passage's text", example: "Parking is free on Saturdays and Sundays." }),
      }),
    ),
  })
  .openapi("KnowledgeSearchResult");

export const RebuildResult = z
  .object({
    chunks: z.number().int().openapi({ description: "Passages put back into the index", example: 420 }),
    documents: z.number().int().openapi({ example: 12 }),
    vectors: z.number().int().openapi({ description: "Passages with embeddings", example: 420 }),
  })
  .openapi("KnowledgeRebuild");

export const ReindexAllResult = z
  .object({ queued: z.number().int().openapi({ description: "Documents queued to be read and indexed again", example: 12 }) })
  .openapi("KnowledgeReindexAll");

export type DocumentView = z.infer<typeof DocumentSchema>;
export type SearchInput = z.infer<typeof SearchQuery>;
