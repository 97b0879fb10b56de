import { index, integer, pgTable, text, timestamp } from "drizzle-orm/pg-core";
import { files } from "./files";
import { organizations } from "./tenancy";

/**
 * What an organisation had AI write or draw: marketing text (`POST /v1/ai/text`) and banners
 * (`POST /v1/ai/banner`, whose image is a stored file), with the model, tokens and credits each
 * cost: the history `GET /v1/ai/content` answers, and what a campaign may send.
 */
export const aiContents = pgTable(
  "ai_contents",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    kind: text("kind", { enum: ["product_description", "sms", "whatsapp", "email", "social_post", "offer", "banner"] }).notNull(),
    style: text("style").notNull(),
    language: text("language"),
    prompt: text("prompt").notNull(),
    /** The text written; for a banner, its headline (or null). */
    text: text("text"),
    /** A banner's image; the file row may be deleted later, the history stays. */
    fileId: text("file_id").references(() => files.id, { onDelete: "set null" }),
    model: text("model").notNull(),
    inputTokens: integer("input_tokens").notNull().default(0),
    outputTokens: integer("output_tokens").notNull().default(0),
    credits: integer("credits").notNull(),
    createdBy: text("created_by"),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [index("ai_contents_org_idx").on(t.orgId, t.id)],
);
