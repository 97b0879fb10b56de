import { sql } from "drizzle-orm";
import { index, integer, jsonb, pgTable, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";
import { salesChannels } from "./sales-channels";
import { organizations } from "./tenancy";

export const MESSAGE_CHANNELS = ["sms", "whatsapp", "telegram", "email"] as const;
export const MESSAGE_STATUSES = ["queued", "sending", "sent", "delivered", "read", "failed", "dead"] as const;

/**
 * The outbound message log: every SMS, WhatsApp, Telegram and email is a row here first
 * (status `queued`), then leaves through the `outbound` queue.
 */
export const messages = pgTable(
  "messages",
  {
    id: text("id").primaryKey(),
    /** Null for system mail (OTP codes, password resets) that belongs to no organisation. */
    orgId: text("org_id").references(() => organizations.id, { onDelete: "cascade" }),
    channel: text("channel", { enum: MESSAGE_CHANNELS }).notNull(),
    recipient: text("recipient").notNull(),
    subject: text("subject"),
    body: text("body"),
    template: text("template"),
    variables: jsonb("variables").$type<Record<string, string>>(),
    media: jsonb("media").$type<{ url?: string; r2Key?: string; contentType?: string }>(),
    status: text("status", { enum: MESSAGE_STATUSES }).notNull().default("queued"),
    providerMessageId: text("provider_message_id"),
    attempts: integer("attempts").notNull().default(0),
    lastError: text("last_error"),
    idempotencyKey: text("idempotency_key"),
    entityType: text("entity_type"),
    entityId: text("entity_id"),
    /** Sent with this sales channel's own credentials (a bot reply), not the platform's. */
    salesChannelId: text("sales_channel_id").references(() => salesChannels.id, { onDelete: "cascade" }),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [
    // System messages (org_id null) share one idempotency namespace.
    uniqueIndex("messages_idempotency_key").on(sql`coalesce(${t.orgId}, '')`, t.idempotencyKey),
    index("messages_org_idx").on(t.orgId, t.id),
    index("messages_entity_idx").on(t.entityType, t.entityId),
  ],
);
