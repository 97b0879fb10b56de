import { z } from "@hono/zod-openapi";
import { pageQuery, pageSchema } from "../../../lib/pagination";
import { DETECTED_CONTENT_TYPES } from "./detect";

const FILE_ID_EXAMPLE = "file_01JD3X6W6X8Q3M1B0V4T2Y9ZKA";
const KINDS = ["image", "document", "video", "audio"] as const;

export const FileSchema = z
  .object({
    id: z.string().openapi({ description: "File id", example: FILE_ID_EXAMPLE }),
    filename: z.string().openapi({ description: "The uploaded name, without directories or control characters", example: "diwali-offer.png" }),
    kind: z.enum(KINDS).openapi({
      description: "What the bytes are: image (PNG, JPEG, WebP, GIF), document (PDF, CSV, plain text), video (MP4, WebM), audio (MP3, WAV)",
      example: "image",
    }),
    content_type: z.string().openapi({ description: `Decided from the bytes: one of ${DETECTED_CONTENT_TYPES.join(", ")}`, example: "image/png" }),
    size: z.number().int().openapi({ description: "Bytes", example: 48213 }),
    width: z.number().int().nullable().openapi({ description: "Pixels, from the image's header; null for other kinds", example: 1024 }),
    height: z.number().int().nullable().openapi({ description: "Pixels, from the image's header; null for other kinds", example: 1024 }),
    created_at: z.string().openapi({ description: "When it was stored", example: "2026-05-01T12:00:00.000Z" }),
  })
  .openapi("File");

export const FileList = pageSchema(FileSchema, "FileList", {
  data: "Files, newest first",
  nextCursor: "Pass as `cursor` for older files; null on the last page",
});

export const FileListQuery = pageQuery({ defaultLimit: 50, cursorExample: FILE_ID_EXAMPLE }).extend({
  kind: z.enum(KINDS).optional().openapi({ description: "Only files of this kind", example: "image" }),
});

export const FileIdParam = z.object({
  id: z.string().openapi({ param: { name: "id", in: "path" }, description: "File id", example: FILE_ID_EXAMPLE }),
});

export const FileContentQuery = z.object({
  token: z.string().max(4096).optional().openapi({
    description: "The token of a signed link (`POST /v1/files/{id}/url`); without it, the caller must be a member",
    example: "eyJhbGciOiJFUzI1NiIs...",
  }),
});

export const FileLink = z
  .object({
    url: z.string().openapi({
      description: "Opens the file without signing in until `expires_at`",
      example: `https://api.billx.dev/v1/files/${FILE_ID_EXAMPLE}/content?token=eyJ...`,
    }),
    expires_at: z
      .string()
      .openapi({ description: "When the link stops working (FILES_LINK_TTL_SECONDS after it was made)", example: "2026-05-01T12:15:00.000Z" }),
  })
  .openapi("FileLink");

export const StorageUsage = z
  .object({
    used_bytes: z.number().int().openapi({ description: "Bytes stored, plus the declared size of uploads in parts not yet completed", example: 1_048_576 }),
    quota_bytes: z.number().int().openapi({ description: "The organisation's quota (FILES_ORG_QUOTA_BYTES)", example: 5_368_709_120 }),
    available_bytes: z.number().int().openapi({ description: "What is left", example: 5_367_660_544 }),
    files: z.number().int().openapi({ description: "Files stored", example: 12 }),
  })
  .openapi("StorageUsage");

export const UploadedFiles = z
  .object({ data: z.array(FileSchema).openapi({ description: "The stored files, in upload order", example: [] }) })
  .openapi("UploadedFiles");

export const CreateUploadBody = z
  .object({
    filename: z.string().trim().min(1).max(255).openapi({ description: "The video's name; it must end in .mp4, .m4v or .webm", example: "launch.mp4" }),
    size: z
      .number()
      .int()
      .min(1)
      .openapi({ description: "Total bytes, reserved against the quota until the upload completes or is aborted", example: 104_857_600 }),
  })
  .openapi("CreateUpload");

export const Upload = z
  .object({
    id: z.string().openapi({ description: "The upload's id, which the file keeps once completed", example: FILE_ID_EXAMPLE }),
    filename: z.string().openapi({ description: "The cleaned name", example: "launch.mp4" }),
    size: z.number().int().openapi({ description: "The declared size", example: 104_857_600 }),
    status: z.literal("uploading").openapi({ description: "Parts are accepted", example: "uploading" }),
    created_at: z.string().openapi({ description: "When it started", example: "2026-05-01T12:00:00.000Z" }),
  })
  .openapi("Upload");

export const PartParam = FileIdParam.extend({
  part_number: z.coerce
    .number()
    .int()
    .min(1)
    .max(10_000)
    .openapi({ param: { name: "part_number", in: "path" }, description: "1 to 10,000; parts are joined in this order", example: 1 }),
});

export const UploadedPart = z
  .object({
    part_number: z.number().int().openapi({ description: "The part's number", example: 1 }),
    etag: z.string().openapi({ description: "Pass back in `complete`", example: "2c7e0d0f0b8c4a4f" }),
  })
  .openapi("UploadedPart");

export const CompleteUploadBody = z
  .object({
    parts: z
      .array(UploadedPart.extend({ etag: z.string().min(1).max(200), part_number: z.number().int().min(1).max(10_000) }))
      .min(1)
      .max(10_000)
      .openapi({ description: "Every part, as `upload part` answered it", example: [{ part_number: 1, etag: "2c7e0d0f0b8c4a4f" }] }),
  })
  .openapi("CompleteUpload");
