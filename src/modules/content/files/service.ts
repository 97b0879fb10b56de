/**
 * An organisation's stored files: bytes in R2 under its prefix, metadata in `files`. The type is
 * decided from the bytes (detect.ts); limits are per kind; every stored byte and every upload in
 * progress counts against the organisation's quota, checked under a per-organisation lock.
 */
import { and, desc, eq, gt, lt, or, type SQL, sql } from "drizzle-orm";
import { type Transaction, withTransaction } from "../../../db/client";
import { files } from "../../../db/schema";
import { contentDisposition } from "../../../lib/content-disposition";
import type { ServiceCtx } from "../../../lib/context";
import { AppError, NotFound, Unprocessable, UnsupportedMediaType } from "../../../lib/errors";
import { newId } from "../../../lib/ids";
import { orgFilesPrefix } from "../../../lib/org-files";
import { type Page, type PageRequest, toPage } from "../../../lib/pagination";
import { assertCan, requireOrgId } from "../../identity/auth/principal";
import { DETECTED_CONTENT_TYPES, type DetectedType, detectFileType, type FileKind, imageSize } from "./detect";
import { signFileLink, verifyFileLink } from "./links";

/** Files one batch upload may carry. */
export const MAX_FILES_PER_BATCH = 20;
const FILENAME_MAX = 255;
const FILE_ID = /^file_[0-9A-Za-z]{1,64}$/;
// An upload in parts not completed within R2's own lifetime for incomplete uploads (7 days) is gone: it stops reserving quota.
const UPLOAD_RESERVATION_MS = 7 * 86_400_000;

type FileRow = typeof files.$inferSelect;

export interface FileView {
  id: string;
  filename: string;
  kind: FileKind;
  content_type: string;
  size: number;
  width: number | null;
  height: number | null;
  created_at: string;
}

export function fileView(row: FileRow): FileView {
  return {
    id: row.id,
    filename: row.filename,
    kind: row.kind,
    content_type: row.contentType,
    size: row.size,
    width: row.width,
    height: row.height,
    created_at: row.createdAt.toISOString(),
  };
}

/** The organisation's quota is full: the body says how much is used, the quota and what was asked for. */
export class StorageQuotaExceeded extends AppError {
  constructor(used: number, quota: number, needed: number) {
    super(
      413,
      "https://billx.dev/problems/storage-quota-exceeded",
      "Storage quota exceeded",
      `This needs ${needed} bytes; the organisation uses ${used} of its ${quota}`,
      undefined,
      undefined,
      { used_bytes: used, quota_bytes: quota, needed_bytes: needed },
    );
  }
}

/** A name safe to store and serve: no directories, no control or bidirectional-override characters, not empty. */
export function cleanFilename(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? "";
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is removed
  const clean = base.replace(/[\u0000-\u001f\u007f\u202a-\u202e\u2066-\u2069]/g, "").trim();
  return (clean || "file").slice(0, FILENAME_MAX);
}

export function fileKey(orgId: string, id: string): string {
  return `${orgFilesPrefix(orgId)}files/${id}`;
}

const KIND_NAMES: Record<FileKind, string> = { image: "images", document: "documents", audio: "audio files", video: "videos" };

/** An upload that passed every check, ready to store. */
interface CheckedUpload {
  bytes: Uint8Array;
  filename: string;
  type: DetectedType;
  width: number | null;
  height: number | null;
}

/**
 * The checks of one upload, before anything is stored: empty, over its kind's limit or a damaged
 * image header are 422; bytes of no supported type, a name or declared type that disagrees with
 * the bytes are 415. Each error names `path`.
 */
async function checkUpload(ctx: ServiceCtx, file: File, path: string): Promise<CheckedUpload> {
  if (file.size === 0) throw new Unprocessable([{ path, message: "the file is empty" }]);
  const bytes = new Uint8Array(await file.arrayBuffer());
  const filename = cleanFilename(file.name);
  const detection = detectFileType(bytes, filename);
  if (!detection.ok) throw new UnsupportedMediaType([{ path, message: detection.reason }], `${filename} is not a file type Billx stores`);
  const { type } = detection;
  // A declared type we know that names something else is a renamed or mislabelled file; unknown declarations (octet-stream) say nothing.
  const declared = file.type.split(";")[0]?.trim().toLowerCase() ?? "";
  if (declared !== type.contentType && DETECTED_CONTENT_TYPES.includes(declared as (typeof DETECTED_CONTENT_TYPES)[number])) {
    throw new UnsupportedMediaType(
      [{ path, message: `declared as ${declared} but the content is ${type.contentType}` }],
      `${filename} is not what it says it is`,
    );
  }
  const limit = ctx.config.files.maxBytes[type.kind];
  if (bytes.length > limit) throw new Unprocessable([{ path, message: `the file is ${bytes.length} bytes; ${KIND_NAMES[type.kind]} are at most ${limit}` }]);
  let size: { width: number; height: number } | null = null;
  if (type.kind === "image") {
    size = imageSize(bytes, type.contentType);
    if (!size) throw new Unprocessable([{ path, message: "the image's header is damaged: its width and height cannot be read" }]);
  }
  return { bytes, filename, type, width: size?.width ?? null, height: size?.height ?? null };
}

/**
 * Takes `bytes` of the organisation's quota inside `tx`: the advisory lock makes concurrent
 * uploads of one organisation check the sum one after another, so two cannot both fit in the
 * same last free bytes.
 */
export async function reserveQuota(ctx: ServiceCtx, tx: Transaction, orgId: string, bytes: number): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`files:${orgId}`}, 0))`);
  const used = await usedBytes(tx, orgId, ctx.now());
  const quota = ctx.config.files.orgQuotaBytes;
  if (used + bytes > quota) throw new StorageQuotaExceeded(used, quota, bytes);
}

function counted(orgId: string, now: Date): SQL | undefined {
  return and(eq(files.orgId, orgId), or(eq(files.status, "ready"), gt(files.createdAt, new Date(now.getTime() - UPLOAD_RESERVATION_MS))));
}

async function usedBytes(db: ServiceCtx["db"] | Transaction, orgId: string, now: Date): Promise<number> {
  const [row] = await db
    .select({ used: sql<string>`coalesce(sum(${files.size}), 0)` })
    .from(files)
    .where(counted(orgId, now));
  return Number(row?.used ?? 0);
}

/**
 * Stores uploaded files (1 to MAX_FILES_PER_BATCH) for the active organisation. All are checked
 * first, so one bad file stores none; then the objects go to R2 and the rows, under the quota
 * check, to Postgres (objects first: a row never points at nothing; a refused quota removes them).
 */
export async function uploadFiles(ctx: ServiceCtx, uploads: { file: File; path: string }[]): Promise<FileView[]> {
  assertCan(ctx, "files:write");
  if (uploads.length === 0) throw new Unprocessable([{ path: "files", message: "attach at least one file" }]);
  if (uploads.length > MAX_FILES_PER_BATCH) throw new Unprocessable([{ path: "files", message: `at most ${MAX_FILES_PER_BATCH} files per upload` }]);
  const checked: CheckedUpload[] = [];
  for (const upload of uploads) checked.push(await checkUpload(ctx, upload.file, upload.path));
  return storeChecked(ctx, checked);
}

/**
 * Stores bytes the platform made for the organisation (an AI banner) as a file, with the checks
 * and the quota of an upload; the caller's own permission covers it.
 */
export async function storeGeneratedFile(ctx: ServiceCtx, input: { bytes: Uint8Array; filename: string; contentType: string }): Promise<FileView> {
  const file = new File([input.bytes], input.filename, { type: input.contentType });
  const [stored] = await storeChecked(ctx, [await checkUpload(ctx, file, "file")]);
  return stored!;
}

async function storeChecked(ctx: ServiceCtx, checked: CheckedUpload[]): Promise<FileView[]> {
  const orgId = requireOrgId(ctx);
  const now = ctx.now();
  const rows: (typeof files.$inferInsert)[] = checked.map((file) => {
    const id = newId("file");
    return {
      id,
      orgId,
      filename: file.filename,
      kind: file.type.kind,
      contentType: file.type.contentType,
      size: file.bytes.length,
      width: file.width,
      height: file.height,
      r2Key: fileKey(orgId, id),
      status: "ready",
      createdAt: now,
    };
  });
  await Promise.all(rows.map((row, i) => ctx.env.FILES.put(row.r2Key, checked[i]!.bytes, { httpMetadata: { contentType: row.contentType } })));
  try {
    const stored = await withTransaction(ctx, async (tx) => {
      await reserveQuota(
        ctx,
        tx,
        orgId,
        checked.reduce((sum, file) => sum + file.bytes.length, 0),
      );
      return tx.insert(files).values(rows).returning();
    });
    return stored.map(fileView);
  } catch (error) {
    await ctx.env.FILES.delete(rows.map((row) => row.r2Key)).catch(() => undefined);
    throw error;
  }
}

/** What the organisation stores: bytes used (uploads in progress included), its quota, and how many files. */
export async function storageUsage(ctx: ServiceCtx): Promise<{ used_bytes: number; quota_bytes: number; available_bytes: number; files: number }> {
  assertCan(ctx, "files:read");
  const orgId = requireOrgId(ctx);
  const [used, [count]] = await Promise.all([
    usedBytes(ctx.db, orgId, ctx.now()),
    ctx.db
      .select({ files: sql<string>`count(*)` })
      .from(files)
      .where(and(eq(files.orgId, orgId), eq(files.status, "ready"))),
  ]);
  const quota = ctx.config.files.orgQuotaBytes;
  return { used_bytes: used, quota_bytes: quota, available_bytes: Math.max(0, quota - used), files: Number(count?.files ?? 0) };
}

/** The organisation's files, newest first, optionally of one kind. */
export async function listFiles(ctx: ServiceCtx, query: PageRequest & { kind?: FileKind }): Promise<Page<FileView>> {
  assertCan(ctx, "files:read");
  const filters: SQL[] = [eq(files.orgId, requireOrgId(ctx)), eq(files.status, "ready")];
  if (query.kind) filters.push(eq(files.kind, query.kind));
  if (query.cursor) filters.push(lt(files.id, query.cursor));
  const rows = await ctx.db
    .select()
    .from(files)
    .where(and(...filters))
    .orderBy(desc(files.id))
    .limit(query.limit + 1);
  return toPage(rows, query.limit, (row) => row.id, fileView);
}

/** A file of the active organisation in `status`; anything else (another organisation's, not an id) is the same 404. */
export async function fileRow(ctx: ServiceCtx, id: string, status: FileRow["status"] = "ready"): Promise<FileRow> {
  // What cannot be one of our ids never reaches the database.
  if (!FILE_ID.test(id)) throw new NotFound("file", id.slice(0, 100).replaceAll("\u0000", ""));
  const [row] = await ctx.db
    .select()
    .from(files)
    .where(and(eq(files.id, id), eq(files.orgId, requireOrgId(ctx)), eq(files.status, status)));
  if (!row) throw new NotFound(status === "ready" ? "file" : "upload", id);
  return row;
}

export async function getFile(ctx: ServiceCtx, id: string): Promise<FileView> {
  assertCan(ctx, "files:read");
  return fileView(await fileRow(ctx, id));
}

/** A file of the active organisation, by id, for other modules (banner, attachments); 404 when it is not there. */
export async function getFileInOrg(ctx: ServiceCtx, id: string): Promise<FileView> {
  return fileView(await fileRow(ctx, id));
}

async function serve(ctx: ServiceCtx, row: FileRow): Promise<Response> {
  const object = await ctx.env.FILES.get(row.r2Key);
  if (!object) throw new NotFound("file", row.id);
  // Text is downloaded, never rendered in the API's origin; media and PDF open in place.
  const disposition = row.contentType.startsWith("text/") ? "attachment" : "inline";
  return new Response(object.body, {
    headers: {
      "content-type": row.contentType,
      "content-length": String(object.size),
      "content-disposition": contentDisposition(disposition, row.filename),
      "x-content-type-options": "nosniff",
      "content-security-policy": "default-src 'none'; sandbox",
      "cache-control": "private, max-age=300",
    },
  });
}

/** The bytes of a file, for a member of its organisation. */
export async function fileContentForMember(ctx: ServiceCtx, id: string): Promise<Response> {
  assertCan(ctx, "files:read");
  return serve(ctx, await fileRow(ctx, id));
}

/** The bytes of a file for whoever holds a valid link to it; a tampered, expired or other file's link is the same 404. */
export async function fileContentForLink(ctx: ServiceCtx, id: string, token: string): Promise<Response> {
  const claims = await verifyFileLink(ctx.config, token, ctx.now());
  if (!claims || claims.fileId !== id) throw new NotFound("file", id.slice(0, 100).replaceAll("\u0000", ""));
  const [row] = await ctx.db
    .select()
    .from(files)
    .where(and(eq(files.id, claims.fileId), eq(files.orgId, claims.orgId), eq(files.status, "ready")));
  if (!row) throw new NotFound("file", id);
  return serve(ctx, row);
}

/** A short-lived link to a file that works without signing in. */
export async function createFileLink(ctx: ServiceCtx, id: string): Promise<{ url: string; expires_at: string }> {
  assertCan(ctx, "files:read");
  const row = await fileRow(ctx, id);
  const link = await signFileLink(ctx.config, row, ctx.now());
  return { url: link.url, expires_at: link.expiresAt.toISOString() };
}

/** Deletes a file: its row, then its object (a failed object delete leaves bytes no row names, never a row without bytes). */
export async function deleteFile(ctx: ServiceCtx, id: string): Promise<void> {
  assertCan(ctx, "files:write");
  const row = await fileRow(ctx, id);
  const [deleted] = await ctx.db
    .delete(files)
    .where(and(eq(files.id, row.id), eq(files.orgId, row.orgId)))
    .returning();
  if (!deleted) throw new NotFound("file", id);
  await ctx.env.FILES.delete(row.r2Key);
}
