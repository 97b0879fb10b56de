import { index, integer, pgTable, text, timestamp } from "drizzle-orm/pg-core";
import { organizations } from "./tenancy";

/**
 * Audio the platform stored in R2 for an organisation (spoken answers, text to speech with
 * `store: true`). Deleted with its object by the cleanup cron once `expires_at` passes. A link
 * works without sign-in while `link_expires_at` has not passed and its token matches.
 */
export const audioFiles = pgTable(
  "audio_files",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    r2Key: text("r2_key").notNull(),
    contentType: text("content_type").notNull(),
    bytes: integer("bytes").notNull(),
    /** What made it: `tts` or `audio_chat`. */
    source: text("source", { enum: ["tts", "audio_chat"] }).notNull(),
    /** SHA-256 (hex) of the link's token; the token itself is only in the URL handed out. */
    linkTokenHash: text("link_token_hash").notNull(),
    linkExpiresAt: timestamp("link_expires_at", { withTimezone: true, mode: "date" }).notNull(),
    expiresAt: timestamp("expires_at", { withTimezone: true, mode: "date" }).notNull(),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [index("audio_files_org_idx").on(t.orgId, t.id), index("audio_files_expires_idx").on(t.expiresAt)],
);
