import { sql } from "drizzle-orm";
import { bigint, bigserial, index, pgTable, primaryKey, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";
import { salesConversations } from "./sales-chat";
import { organizations, users } from "./tenancy";

export const SALES_CHANNEL_TYPES = ["telegram", "whatsapp"] as const;
export type SalesChannelType = (typeof SALES_CHANNEL_TYPES)[number];

/** Where an inbound chat message is: waiting for its chat's turn, being answered, or finished. */
export const SALES_CHANNEL_UPDATE_STATUSES = ["pending", "processing", "done", "failed", "skipped"] as const;

/**
 * A Telegram bot or a WhatsApp Cloud API number an organisation connected to its sales chat.
 * Its credentials (bot token and webhook secret; access token, app secret and verify token) are
 * one sealed JSON document (src/lib/secret-box.ts, bound to the row), never returned or logged.
 * Disconnecting keeps the row (replies already queued must fail, not fall back to the platform's
 * own credentials) but drops the credentials.
 */
export const salesChannels = pgTable(
  "sales_channels",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    type: text("type", { enum: SALES_CHANNEL_TYPES }).notNull(),
    /** The bot's numeric id (Telegram) or the phone number id (WhatsApp): what the provider calls it. */
    externalId: text("external_id").notNull(),
    /** The bot's @username or the number as displayed, for people. */
    displayName: text("display_name").notNull(),
    /** Null once disconnected. */
    credentialsSealed: text("credentials_sealed"),
    keyId: text("key_id"),
    createdBy: text("created_by").references(() => users.id, { onDelete: "set null" }),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    disconnectedAt: timestamp("disconnected_at", { withTimezone: true, mode: "date" }),
  },
  (t) => [
    // One live connection per bot or number: a second setWebhook would steal the first one's messages.
    uniqueIndex("sales_channels_live_external_key").on(t.type, t.externalId).where(sql`${t.disconnectedAt} IS NULL`),
    index("sales_channels_org_idx").on(t.orgId, t.id),
  ],
);

/** The one sales conversation each chat of a channel is (a deleted conversation lets the next message start a new one). */
export const salesChannelChats = pgTable(
  "sales_channel_chats",
  {
    channelId: text("channel_id")
      .notNull()
      .references(() => salesChannels.id, { onDelete: "cascade" }),
    chatId: text("chat_id").notNull(),
    conversationId: text("conversation_id")
      .notNull()
      .references(() => salesConversations.id, { onDelete: "cascade" }),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  // The conversation index serves a staff reply's way back to its chat and the cascade when a conversation is deleted.
  (t) => [primaryKey({ columns: [t.channelId, t.chatId] }), index("sales_channel_chats_conversation_idx").on(t.conversationId)],
);

/**
 * Inbound chat messages as the webhooks received them. The unique (channel, external id) row is
 * claimed before any work, so a redelivered Telegram update or WhatsApp message is answered once;
 * a chat's pending rows are answered one at a time in `position` order (Telegram's update_id,
 * WhatsApp's timestamp), ties in arrival order (`seq`).
 */
export const salesChannelUpdates = pgTable(
  "sales_channel_updates",
  {
    id: text("id").primaryKey(),
    seq: bigserial("seq", { mode: "number" }).notNull(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    channelId: text("channel_id")
      .notNull()
      .references(() => salesChannels.id, { onDelete: "cascade" }),
    /** Telegram's update_id or WhatsApp's message id (wamid). */
    externalId: text("external_id").notNull(),
    chatId: text("chat_id").notNull(),
    position: bigint("position", { mode: "number" }).notNull(),
    text: text("text").notNull(),
    status: text("status", { enum: SALES_CHANNEL_UPDATE_STATUSES }).notNull().default("pending"),
    conversationId: text("conversation_id"),
    error: text("error"),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    processedAt: timestamp("processed_at", { withTimezone: true, mode: "date" }),
  },
  (t) => [
    uniqueIndex("sales_channel_updates_external_key").on(t.channelId, t.externalId),
    index("sales_channel_updates_chat_idx").on(t.channelId, t.chatId, t.status, t.position, t.seq),
  ],
);
