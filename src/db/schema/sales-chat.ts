import { sql } from "drizzle-orm";
import { index, integer, jsonb, pgTable, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";
import { agents } from "./monetisation";
import { organizations, users } from "./tenancy";

export const SALES_CHANNELS = ["web", "telegram", "whatsapp"] as const;
export type SalesChannel = (typeof SALES_CHANNELS)[number];
/** Who answers a conversation: the bot, or a staff member who took it over. */
export const SALES_CONVERSATION_MODES = ["bot", "human"] as const;
export const SALES_MESSAGE_ROLES = ["user", "assistant", "staff"] as const;
export type SalesMessageRole = (typeof SALES_MESSAGE_ROLES)[number];

/** One stage of a sales flow as stored (the flows module validates the graph before it is written). */
export interface StoredSalesStage {
  name: string;
  goal: string;
  prompt: string | null;
  next: string[];
  attachment: string | null;
}

/** What a visitor ordered, priced from the products table when it was recorded. */
export interface SalesOrder {
  product_id: string;
  quantity: number;
  value: number;
  currency: string;
}

/**
 * An organisation's sales flow: its stages in order (the first is where a conversation starts),
 * the usage agent its conversations are activities of, and the assistant whose knowledge base
 * the knowledge agent searches. One per organisation, created with the default seven stages on
 * first use.
 */
export const salesFlows = pgTable(
  "sales_flows",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    agentId: text("agent_id")
      .notNull()
      .references(() => agents.id),
    stages: jsonb("stages").$type<StoredSalesStage[]>().notNull(),
    knowledgeAssistantId: text("knowledge_assistant_id"),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex("sales_flows_org_key").on(t.orgId)],
);

/** A sales chat with one contact (a web visitor, a Telegram or WhatsApp user) on one channel. */
export const salesConversations = pgTable(
  "sales_conversations",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    contactId: text("contact_id").notNull(),
    channel: text("channel", { enum: SALES_CHANNELS }).notNull(),
    title: text("title"),
    stage: text("stage").notNull(),
    mode: text("mode", { enum: SALES_CONVERSATION_MODES }).notNull().default("bot"),
    takenOverBy: text("taken_over_by").references(() => users.id, { onDelete: "set null" }),
    takenOverAt: timestamp("taken_over_at", { withTimezone: true, mode: "date" }),
    order: jsonb("order").$type<SalesOrder>(),
    saleClosedAt: timestamp("sale_closed_at", { withTimezone: true, mode: "date" }),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [index("sales_conversations_org_idx").on(t.orgId, t.id), index("sales_conversations_contact_idx").on(t.orgId, t.contactId, t.id)],
);

/** The messages of a conversation in the order they were handled (`seq`, unique per conversation). */
export const salesMessages = pgTable(
  "sales_messages",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    conversationId: text("conversation_id")
      .notNull()
      .references(() => salesConversations.id, { onDelete: "cascade" }),
    seq: integer("seq").notNull(),
    role: text("role", { enum: SALES_MESSAGE_ROLES }).notNull(),
    content: text("content").notNull(),
    stage: text("stage").notNull(),
    /** The staff member who wrote a `staff` message. */
    authorUserId: text("author_user_id").references(() => users.id, { onDelete: "set null" }),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex("sales_messages_conversation_seq_key").on(t.conversationId, t.seq), index("sales_messages_org_idx").on(t.orgId, t.conversationId)],
);

/**
 * Stage decisions the rules overrode: what the planner proposed, what was decided and why. A log
 * for whoever tunes the flow's prompts; nothing reads it back to decide.
 */
export const salesStageRefusals = pgTable(
  "sales_stage_refusals",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    conversationId: text("conversation_id")
      .notNull()
      .references(() => salesConversations.id, { onDelete: "cascade" }),
    fromStage: text("from_stage").notNull(),
    proposed: text("proposed"),
    decided: text("decided").notNull(),
    reason: text("reason").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().default(sql`now()`),
  },
  (t) => [index("sales_stage_refusals_conversation_idx").on(t.orgId, t.conversationId)],
);

/**
 * Keys a shop's website uses to put the chat widget on its pages. Publishable: they sit in the
 * page's HTML, so they are stored as they are and only ever let a browser on one of
 * `allowed_origins` chat with the bot (rate-limited per IP and contact).
 */
export const chatbotPublishableKeys = pgTable(
  "chatbot_publishable_keys",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    key: text("key").notNull(),
    name: text("name"),
    allowedOrigins: jsonb("allowed_origins").$type<string[]>().notNull(),
    createdBy: text("created_by").references(() => users.id, { onDelete: "set null" }),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    revokedAt: timestamp("revoked_at", { withTimezone: true, mode: "date" }),
  },
  (t) => [uniqueIndex("chatbot_publishable_keys_key").on(t.key), index("chatbot_publishable_keys_org_idx").on(t.orgId, t.id)],
);
