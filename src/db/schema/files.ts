import { bigint, index, integer, pgTable, text, timestamp } from "drizzle-orm/pg-core";
import { organizations } from "./tenancy";

/**
 * A file an organisation stored (images, documents, audio, video): the bytes in R2 under the
 * organisation's prefix (`r2_key`), what the detector decided they are here. A large video being
 * uploaded in parts has `status` `uploading` and the R2 `upload_id` until it is completed; only
 * `ready` files are listed and served. Both count against the organisation's quota: an upload in
 * progress reserves the size it declared, so parallel uploads cannot overrun the quota together.
 */
export const files = pgTable(
  "files",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    filename: text("filename").notNull(),
    kind: text("kind", { enum: ["image", "document", "video", "audio"] }).notNull(),
    contentType: text("content_type").notNull(),
    /** Bytes stored; for an upload in progress, the size it declared (reserved against the quota). */
    size: bigint("size", { mode: "number" }).notNull(),
    width: integer("width"),
    height: integer("height"),
    r2Key: text("r2_key").notNull(),
    status: text("status", { enum: ["ready", "uploading"] }).notNull(),
    uploadId: text("upload_id"),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [index("files_org_idx").on(t.orgId, t.id), index("files_org_kind_idx").on(t.orgId, t.kind, t.id)],
);
