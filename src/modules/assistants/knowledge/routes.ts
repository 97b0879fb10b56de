import { createRoute, z } from "@hono/zod-openapi";
import { Unprocessable } from "../../../lib/errors";
import { createRouter, jsonResponse, problem, problemResponses } from "../../../lib/openapi";
import { authed } from "../../identity/auth/route-security";
import { AssistantIdParam } from "../assistants/schemas";
import {
  deleteDocument,
  getDocument,
  listDocuments,
  MAX_FILES_PER_UPLOAD,
  rebuildIndex,
  reindexAllDocuments,
  reindexDocument,
  uploadDocuments,
} from "./documents";
import {
  DocumentIdParam,
  DocumentList,
  DocumentListQuery,
  DocumentSchema,
  RebuildResult,
  ReindexAllResult,
  SearchQuery,
  SearchResult,
  UploadedDocuments,
} from "./schemas";
import { searchKnowledge } from "./search";

const tags = ["Knowledge base"];

const UploadForm = z
  .object({
    files: z.any().openapi({
      type: "array",
      items: { type: "string", format: "binary" },
      description: `1 to ${MAX_FILES_PER_UPLOAD} files: PDF, plain text, Markdown or HTML`,
    }),
  })
  .openapi("KnowledgeUpload");

const uploadRoute = createRoute({
  tags,
  method: "post",
  path: "/v1/assistants/{id}/documents",
  summary: "Upload documents to an assistant's knowledge base; each is read, chunked, embedded and indexed in the background",
  description:
    "Multipart field `files` (repeat it for several). The kind is decided from the content; a file of another kind is a 415 naming `files[i]`, an empty one or one over `KNOWLEDGE_MAX_FILE_BYTES` a 422, and the whole upload (all files) over that size a 413. Poll the document until `status` is `ready` or `failed` (with `failure_reason`: encrypted, damaged, a scan with no text layer and no vision model).",
  ...authed("assistants:write"),
  request: { params: AssistantIdParam, body: { required: true, content: { "multipart/form-data": { schema: UploadForm } } } },
  responses: {
    202: jsonResponse(UploadedDocuments, "Stored and queued"),
    413: problem("The upload is too large"),
    415: problem("A file is not a kind the knowledge base reads"),
    ...problemResponses,
  },
});

const listRoute = createRoute({
  tags,
  method: "get",
  path: "/v1/assistants/{id}/documents",
  summary: "An assistant's documents and their indexing state",
  ...authed("assistants:read"),
  request: { params: AssistantIdParam, query: DocumentListQuery },
  responses: { 200: jsonResponse(DocumentList, "A page of documents"), ...problemResponses },
});

const getRoute = createRoute({
  tags,
  method: "get",
  path: "/v1/assistants/{id}/documents/{document_id}",
  summary: "One document",
  ...authed("assistants:read"),
  request: { params: DocumentIdParam },
  responses: { 200: jsonResponse(DocumentSchema, "The document"), ...problemResponses },
});

const deleteRoute = createRoute({
  tags,
  method: "delete",
  path: "/v1/assistants/{id}/documents/{document_id}",
  summary: "Delete a document: its file, its passages and their place in the index",
  ...authed("assistants:write"),
  request: { params: DocumentIdParam },
  responses: { 204: { description: "Deleted" }, ...problemResponses },
});

const reindexRoute = createRoute({
  tags,
  method: "post",
  path: "/v1/assistants/{id}/documents/{document_id}/reindex",
  summary: "Read and index a document again (after a failure, or once embeddings are configured)",
  ...authed("assistants:write"),
  request: { params: DocumentIdParam },
  responses: { 202: jsonResponse(DocumentSchema, "Queued"), ...problemResponses },
});

const reindexAllRoute = createRoute({
  tags,
  method: "post",
  path: "/v1/assistants/{id}/documents/reindex",
  summary: "Read and index every document of the assistant again",
  ...authed("assistants:write"),
  request: { params: AssistantIdParam },
  responses: { 202: jsonResponse(ReindexAllResult, "Queued"), ...problemResponses },
});

const rebuildRoute = createRoute({
  tags,
  method: "post",
  path: "/v1/assistants/{id}/knowledge/rebuild",
  summary: "Rebuild the assistant's search index from the stored passages (no file is read, no embeddings are bought)",
  ...authed("assistants:write"),
  request: { params: AssistantIdParam },
  responses: { 200: jsonResponse(RebuildResult, "What the new index holds"), ...problemResponses },
});

const searchRoute = createRoute({
  tags,
  method: "get",
  path: "/v1/assistants/{id}/knowledge/search",
  summary: "The passages of the assistant's documents that best answer a question",
  ...authed("assistants:read"),
  request: { params: AssistantIdParam, query: SearchQuery },
  responses: { 200: jsonResponse(SearchResult, "Best passages first"), ...problemResponses },
});

/** The uploaded files of a multipart body, under `files` or `files[]`; a text value there is a 422. */
function uploadedFiles(form: Record<string, unknown>): File[] {
  const values = [form.files, form["files[]"]].flatMap((v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]));
  if (values.some((v) => !(v instanceof File))) throw new Unprocessable([{ path: "files", message: "must be files, not text fields" }]);
  return values as File[];
}

export const knowledgeRoutes = createRouter()
  .openapi(uploadRoute, async (c) => {
    const documents = await uploadDocuments(c.var.ctx, c.req.valid("param").id, uploadedFiles(c.req.valid("form")));
    return c.json({ data: documents.map(({ id, filename, status }) => ({ id, filename, status })) }, 202);
  })
  .openapi(listRoute, async (c) => c.json(await listDocuments(c.var.ctx, c.req.valid("param").id, c.req.valid("query")), 200))
  .openapi(getRoute, async (c) => {
    const { id, document_id } = c.req.valid("param");
    return c.json(await getDocument(c.var.ctx, id, document_id), 200);
  })
  .openapi(deleteRoute, async (c) => {
    const { id, document_id } = c.req.valid("param");
    await deleteDocument(c.var.ctx, id, document_id);
    return c.body(null, 204);
  })
  .openapi(reindexRoute, async (c) => {
    const { id, document_id } = c.req.valid("param");
    return c.json(await reindexDocument(c.var.ctx, id, document_id), 202);
  })
  .openapi(reindexAllRoute, async (c) => c.json(await reindexAllDocuments(c.var.ctx, c.req.valid("param").id), 202))
  .openapi(rebuildRoute, async (c) => c.json(await rebuildIndex(c.var.ctx, c.req.valid("param").id), 200))
  .openapi(searchRoute, async (c) => c.json(await searchKnowledge(c.var.ctx, c.req.valid("param").id, c.req.valid("query")), 200));
