/**
 * Large videos in parts, through R2's multipart upload: create (declares the name and total
 * size, which reserves quota), upload parts (each at least 5 MiB except the last, R2's rule),
 * complete (the bytes are checked like any upload: a video by its magic bytes, within the
 * declared size) or abort. The upload's handle is the file id it becomes.
 */
import { and, eq } from "drizzle-orm";
import { withTransaction } from "../../../db/client";
import { files } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { Conflict, Unprocessable, UnsupportedMediaType } from "../../../lib/errors";
import { newId } from "../../../lib/ids";
import { assertCan, requireOrgId } from "../../identity/auth/principal";
import { detectFileType, extensionOf } from "./detect";
import { cleanFilename, type FileView, fileKey, fileRow, fileView, reserveQuota } from "./service";

/** R2's limit on parts of one upload. */
export const MAX_PARTS = 10_000;
const VIDEO_EXTENSIONS = ["mp4", "m4v", "webm"];
// Enough of the head of the object for the magic bytes.
const HEAD_BYTES = 64;

export interface UploadView {
  id: string;
  filename: string;
  size: number;
  status: "uploading";
  created_at: string;
}

/** Starts an upload in parts of a video named `filename` of `size` bytes; the size is reserved against the quota until it completes or is aborted. */
export async function createUpload(ctx: ServiceCtx, input: { filename: string; size: number }): Promise<UploadView> {
  assertCan(ctx, "files:write");
  const orgId = requireOrgId(ctx);
  const filename = cleanFilename(input.filename);
  const extension = extensionOf(filename);
  if (extension === null || !VIDEO_EXTENSIONS.includes(extension)) {
    throw new UnsupportedMediaType(
      [{ path: "filename", message: `uploads in parts are for videos (${VIDEO_EXTENSIONS.map((e) => `.${e}`).join(", ")})` }],
      "Only videos are uploaded in parts",
    );
  }
  const limit = ctx.config.files.maxBytes.video;
  if (input.size > limit) throw new Unprocessable([{ path: "size", message: `videos are at most ${limit} bytes` }]);
  const id = newId("file");
  const r2Key = fileKey(orgId, id);
  const contentType = extension === "webm" ? "video/webm" : "video/mp4";
  const row = await withTransaction(ctx, async (tx) => {
    await reserveQuota(ctx, tx, orgId, input.size);
    // Created inside the lock's transaction: a refused quota leaves no upload behind in R2.
    const upload = await ctx.env.FILES.createMultipartUpload(r2Key, { httpMetadata: { contentType } });
    const [inserted] = await tx
      .insert(files)
      .values({
        id,
        orgId,
        filename,
        kind: "video",
        contentType,
        size: input.size,
        r2Key,
        status: "uploading",
        uploadId: upload.uploadId,
        createdAt: ctx.now(),
      })
      .returning();
    return inserted!;
  });
  return { id: row.id, filename: row.filename, size: row.size, status: "uploading", created_at: row.createdAt.toISOString() };
}

function r2Upload(ctx: ServiceCtx, row: typeof files.$inferSelect): R2MultipartUpload {
  return ctx.env.FILES.resumeMultipartUpload(row.r2Key, row.uploadId ?? "");
}

/** Stores part `partNumber` (1 to 10,000) of an upload; answers the etag `complete` needs. */
export async function uploadPart(ctx: ServiceCtx, id: string, partNumber: number, bytes: ArrayBuffer): Promise<{ part_number: number; etag: string }> {
  assertCan(ctx, "files:write");
  const row = await fileRow(ctx, id, "uploading");
  if (bytes.byteLength === 0) throw new Unprocessable([{ path: "body", message: "the part is empty" }]);
  try {
    const part = await r2Upload(ctx, row).uploadPart(partNumber, bytes);
    return { part_number: part.partNumber, etag: part.etag };
  } catch (error) {
    ctx.log.warn("upload part refused by R2", { file_id: row.id, error });
    throw new Conflict(`Upload ${row.id} no longer accepts parts (completed, aborted or expired)`);
  }
}

/**
 * Joins the parts into the file: R2 checks the etags and part sizes, then the head of the object
 * must be a video and the whole no larger than declared; a refused upload is deleted, bytes and row.
 */
export async function completeUpload(ctx: ServiceCtx, id: string, parts: { part_number: number; etag: string }[]): Promise<FileView> {
  assertCan(ctx, "files:write");
  const row = await fileRow(ctx, id, "uploading");
  let size: number;
  try {
    const object = await r2Upload(ctx, row).complete(parts.map((part) => ({ partNumber: part.part_number, etag: part.etag })));
    size = object.size;
  } catch (error) {
    ctx.log.warn("upload completion refused by R2", { file_id: row.id, error });
    throw new Unprocessable([
      { path: "parts", message: "the parts do not complete this upload: an etag or part number is wrong, or a part other than the last is under 5 MiB" },
    ]);
  }
  const head = await ctx.env.FILES.get(row.r2Key, { range: { offset: 0, length: HEAD_BYTES } });
  const bytes = new Uint8Array(head ? await head.arrayBuffer() : new ArrayBuffer(0));
  const detection = detectFileType(bytes, row.filename);
  const refusal =
    !detection.ok || detection.type.kind !== "video"
      ? new UnsupportedMediaType(
          [{ path: "parts", message: detection.ok ? `the content is ${detection.type.contentType}, not a video` : detection.reason }],
          `${row.filename} is not a video`,
        )
      : size > row.size
        ? new Unprocessable([{ path: "parts", message: `the parts hold ${size} bytes; the upload declared ${row.size}` }])
        : null;
  if (refusal || !detection.ok) {
    await Promise.all([ctx.env.FILES.delete(row.r2Key), ctx.db.delete(files).where(and(eq(files.id, row.id), eq(files.orgId, row.orgId)))]);
    throw refusal;
  }
  const [ready] = await ctx.db
    .update(files)
    .set({ status: "ready", size, contentType: detection.type.contentType, uploadId: null })
    .where(and(eq(files.id, row.id), eq(files.orgId, row.orgId), eq(files.status, "uploading")))
    .returning();
  if (!ready) throw new Conflict(`Upload ${row.id} was completed or aborted meanwhile`);
  return fileView(ready);
}

/** Abandons an upload: R2 drops its parts and the reserved quota is free again. */
export async function abortUpload(ctx: ServiceCtx, id: string): Promise<void> {
  assertCan(ctx, "files:write");
  const row = await fileRow(ctx, id, "uploading");
  await r2Upload(ctx, row)
    .abort()
    .catch((error: unknown) => ctx.log.warn("upload abort refused by R2", { file_id: row.id, error }));
  await ctx.db.delete(files).where(and(eq(files.id, row.id), eq(files.orgId, row.orgId), eq(files.status, "uploading")));
}
