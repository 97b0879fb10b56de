import { index, integer, jsonb, pgTable, text, timestamp } from "drizzle-orm/pg-core";
import { aiContents } from "./ai-content";
import { files } from "./files";
import { organizations } from "./tenancy";

/** Who a campaign is for: customers with any of `tags`, customers who owe, or everyone (opted-out customers never). */
export interface CampaignAudience {
  tags?: string[];
  owing?: boolean;
  all?: boolean;
}

/**
 * One offer sent to a group of an organisation's customers, one message each through the
 * outbound queue (idempotency key `campaign:{id}:{customer}`, so a second start or an
 * overlapping cron run sends nobody twice). Its counts come from those messages' statuses.
 */
export const campaigns = pgTable(
  "campaigns",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    channel: text("channel", { enum: ["sms", "whatsapp", "email"] }).notNull(),
    message: text("message").notNull(),
    aiContentId: text("ai_content_id").references(() => aiContents.id, { onDelete: "set null" }),
    bannerFileId: text("banner_file_id").references(() => files.id, { onDelete: "set null" }),
    audience: jsonb("audience").$type<CampaignAudience>().notNull(),
    sendAt: timestamp("send_at", { withTimezone: true, mode: "date" }),
    /** scheduled → sending → sent; cancelled only from scheduled. */
    status: text("status", { enum: ["scheduled", "sending", "sent", "cancelled"] }).notNull(),
    /** Customers messaged, once the fan-out finished. */
    recipients: integer("recipients"),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    startedAt: timestamp("started_at", { withTimezone: true, mode: "date" }),
  },
  (t) => [index("campaigns_org_idx").on(t.orgId, t.id), index("campaigns_due_idx").on(t.status, t.sendAt)],
);
