import { createRoute, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../../../lib/context";
import { Unprocessable } from "../../../lib/errors";
import { createRouter, jsonBody, jsonResponse, problem, problemResponses } from "../../../lib/openapi";
import { requireAuth, requirePermission } from "../../identity/auth/middleware";
import { authed } from "../../identity/auth/route-security";
import { abortUpload, completeUpload, createUpload, uploadPart } from "./multipart";
import {
  CompleteUploadBody,
  CreateUploadBody,
  FileContentQuery,
  FileIdParam,
  FileLink,
  FileList,
  FileListQuery,
  FileSchema,
  PartParam,
  StorageUsage,
  Upload,
  UploadedFiles,
  UploadedPart,
} from "./schemas";
import {
  createFileLink,
  deleteFile,
  fileContentForLink,
  fileContentForMember,
  getFile,
  listFiles,
  MAX_FILES_PER_BATCH,
  storageUsage,
  uploadFiles,
} from "./service";

const tags = ["Files"];
const binary = { type: "string", format: "binary" } as const;
const fileContent = { "*/*": { schema: z.any().openapi(binary) } };
const uploadProblems = {
  413: problem("The upload is over FILES_MAX_UPLOAD_BYTES, or the organisation's storage quota is full (`used_bytes`, `quota_bytes`, `needed_bytes`)"),
  415: problem("The bytes are no supported type, or the name or declared type disagrees with them"),
};

const OneFileForm = z.object({ file: z.any().openapi({ ...binary, description: "The file" }) }).openapi("FileUpload");
const BatchForm = z
  .object({ files: z.any().openapi({ type: "array", items: binary, description: `1 to ${MAX_FILES_PER_BATCH} files (repeat the field)` }) })
  .openapi("FileBatchUpload");

const uploadRoute = createRoute({
  tags,
  method: "post",
  path: "/v1/files",
  summary: "Store one file (multipart field `file`)",
  description:
    "The type is decided from the bytes: PNG, JPEG, WebP, GIF, PDF, MP4, WebM, MP3, WAV, CSV or plain text (valid UTF-8 without NUL; `.csv` names must have one consistent delimiter). A name whose extension belongs to another type, or a declared Content-Type naming another known type, is a 415. Limits per kind (FILES_MAX_IMAGE_BYTES, _DOCUMENT_, _AUDIO_) are 422s; videos over FILES_MAX_UPLOAD_BYTES go through `/v1/files/uploads`.",
  ...authed("files:write"),
  request: { body: { required: true, content: { "multipart/form-data": { schema: OneFileForm } } } },
  responses: { 201: jsonResponse(FileSchema, "Stored"), ...uploadProblems, ...problemResponses },
});

const batchRoute = createRoute({
  tags,
  method: "post",
  path: "/v1/files/batch",
  summary: "Store several files at once (multipart field `files`, repeated); one bad file stores none",
  ...authed("files:write"),
  request: { body: { required: true, content: { "multipart/form-data": { schema: BatchForm } } } },
  responses: { 201: jsonResponse(UploadedFiles, "Stored"), ...uploadProblems, ...problemResponses },
});

const listRoute = createRoute({
  tags,
  method: "get",
  path: "/v1/files",
  summary: "The organisation's files, newest first",
  ...authed("files:read"),
  request: { query: FileListQuery },
  responses: { 200: jsonResponse(FileList, "A page of files"), ...problemResponses },
});

const usageRoute = createRoute({
  tags,
  method: "get",
  path: "/v1/files/usage",
  summary: "Storage the organisation uses and its quota",
  ...authed("files:read"),
  responses: { 200: jsonResponse(StorageUsage, "Usage"), ...problemResponses },
});

const getRoute = createRoute({
  tags,
  method: "get",
  path: "/v1/files/{id}",
  summary: "A file's metadata",
  ...authed("files:read"),
  request: { params: FileIdParam },
  responses: { 200: jsonResponse(FileSchema, "The file"), ...problemResponses },
});

const canReadFiles = requirePermission("files:read");

/** A signed link's token opens the content without signing in; without one the caller must be a member. */
const memberOrLink: MiddlewareHandler<AppEnv> = async function memberOrLink(c, next) {
  if (c.req.query("token") !== undefined) {
    await next();
    return;
  }
  await requireAuth(c, async () => {
    await canReadFiles(c, next);
  });
};

const contentRoute = createRoute({
  tags,
  method: "get",
  path: "/v1/files/{id}/content",
  summary: "A file's bytes, to members or through a signed link (`?token=`)",
  description:
    "Served with the detected Content-Type, `nosniff`, a sandboxing CSP and a `Content-Disposition` carrying the name as `filename` (ASCII) and `filename*` (UTF-8). A tampered, expired or other file's token is a 404.",

  middleware: [memberOrLink] as const,
  request: { params: FileIdParam, query: FileContentQuery },
  responses: { 200: { description: "The bytes", content: fileContent }, ...problemResponses },
});

const linkRoute = createRoute({
  tags,
  method: "post",
  path: "/v1/files/{id}/url",
  summary: "A short-lived signed link to the file's content, for sharing",
  ...authed("files:read"),
  request: { params: FileIdParam },
  responses: { 200: jsonResponse(FileLink, "The link"), ...problemResponses },
});

const deleteRoute = createRoute({
  tags,
  method: "delete",
  path: "/v1/files/{id}",
  summary: "Delete a file (its links stop working)",
  ...authed("files:write"),
  request: { params: FileIdParam },
  responses: { 204: { description: "Deleted" }, ...problemResponses },
});

const createUploadRoute = createRoute({
  tags,
  method: "post",
  path: "/v1/files/uploads",
  summary: "Start uploading a large video in parts (R2 multipart upload)",
  description:
    "Declare the name (.mp4, .m4v, .webm) and total size, which is reserved against the quota; then PUT each part (at least 5 MiB except the last), then complete with every part's etag, or abort.",
  ...authed("files:write"),
  request: jsonBody(CreateUploadBody),
  responses: { 201: jsonResponse(Upload, "Started"), ...uploadProblems, ...problemResponses },
});

const uploadPartRoute = createRoute({
  tags,
  method: "put",
  path: "/v1/files/uploads/{id}/parts/{part_number}",
  summary: "Upload one part (the raw bytes as the body)",
  ...authed("files:write"),
  request: { params: PartParam, body: { required: true, content: { "application/octet-stream": { schema: z.any().openapi(binary) } } } },
  responses: { 200: jsonResponse(UploadedPart, "Stored; keep the etag"), 413: problem("The part is over FILES_MAX_UPLOAD_BYTES"), ...problemResponses },
});

const completeUploadRoute = createRoute({
  tags,
  method: "post",
  path: "/v1/files/uploads/{id}/complete",
  summary: "Join the parts into the file; a result that is not a video, or larger than declared, is deleted",
  ...authed("files:write"),
  request: { params: FileIdParam, ...jsonBody(CompleteUploadBody) },
  responses: { 201: jsonResponse(FileSchema, "The file"), ...uploadProblems, ...problemResponses },
});

const abortUploadRoute = createRoute({
  tags,
  method: "delete",
  path: "/v1/files/uploads/{id}",
  summary: "Abandon an upload in parts; its reserved quota is free again",
  ...authed("files:write"),
  request: { params: FileIdParam },
  responses: { 204: { description: "Aborted" }, ...problemResponses },
});

/** The files of a multipart body under `names`; a text value there is a 422. */
function formFiles(form: Record<string, unknown>, names: string[], path: string): { file: File; path: string }[] {
  const values = names.flatMap((name) => {
    const value = form[name];
    return value === undefined ? [] : Array.isArray(value) ? value : [value];
  });
  if (values.some((v) => !(v instanceof File))) throw new Unprocessable([{ path, message: "must be files, not text fields" }]);
  return (values as File[]).map((file, index) => ({ file, path: values.length === 1 && path === "file" ? path : `${path}[${index}]` }));
}

export const filesRoutes = createRouter()
  .openapi(uploadRoute, async (c) => {
    const uploads = formFiles(c.req.valid("form"), ["file"], "file");
    if (uploads.length !== 1) throw new Unprocessable([{ path: "file", message: "attach exactly one file as field `file` (several go to /v1/files/batch)" }]);
    const [file] = await uploadFiles(c.var.ctx, uploads);
    return c.json(file!, 201);
  })
  .openapi(batchRoute, async (c) => c.json({ data: await uploadFiles(c.var.ctx, formFiles(c.req.valid("form"), ["files", "files[]"], "files")) }, 201))
  .openapi(listRoute, async (c) => c.json(await listFiles(c.var.ctx, c.req.valid("query")), 200))
  .openapi(usageRoute, async (c) => c.json(await storageUsage(c.var.ctx), 200))
  .openapi(createUploadRoute, async (c) => c.json(await createUpload(c.var.ctx, c.req.valid("json")), 201))
  .openapi(uploadPartRoute, async (c) => {
    const { id, part_number } = c.req.valid("param");
    return c.json(await uploadPart(c.var.ctx, id, part_number, await c.req.arrayBuffer()), 200);
  })
  .openapi(completeUploadRoute, async (c) => c.json(await completeUpload(c.var.ctx, c.req.valid("param").id, c.req.valid("json").parts), 201))
  .openapi(abortUploadRoute, async (c) => {
    await abortUpload(c.var.ctx, c.req.valid("param").id);
    return c.body(null, 204);
  })
  .openapi(getRoute, async (c) => c.json(await getFile(c.var.ctx, c.req.valid("param").id), 200))
  .openapi(contentRoute, async (c) => {
    const { id } = c.req.valid("param");
    const { token } = c.req.valid("query");
    return (await (token !== undefined ? fileContentForLink(c.var.ctx, id, token) : fileContentForMember(c.var.ctx, id))) as never;
  })
  .openapi(linkRoute, async (c) => c.json(await createFileLink(c.var.ctx, c.req.valid("param").id), 200))
  .openapi(deleteRoute, async (c) => {
    await deleteFile(c.var.ctx, c.req.valid("param").id);
    return c.body(null, 204);
  });
