import { index, integer, numeric, pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";
import { organizations } from "./tenancy";

/** The sales chatbot's agents; `reply` writes the bot's answer. */
export const SALES_AGENTS = ["planner", "memory", "product", "knowledge", "reply"] as const;
export type SalesAgent = (typeof SALES_AGENTS)[number];
export const LLM_PROVIDER_NAMES = ["openai", "anthropic", "google", "xai"] as const;

/** Which provider and model each agent of an organisation uses (no row: the platform's default). */
export const salesAgentConfigs = pgTable(
  "sales_agent_configs",
  {
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    agent: text("agent", { enum: SALES_AGENTS }).notNull(),
    provider: text("provider", { enum: LLM_PROVIDER_NAMES }).notNull(),
    model: text("model").notNull(),
    updatedBy: text("updated_by"),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.agent] })],
);

/**
 * Every version an organisation wrote of a chatbot prompt, never changed or deleted: reverting
 * points `sales_prompts.current_version` back at an old one. Versions count from 1 per slug.
 */
export const salesPromptVersions = pgTable(
  "sales_prompt_versions",
  {
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    slug: text("slug").notNull(),
    version: integer("version").notNull(),
    text: text("text").notNull(),
    createdBy: text("created_by"),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.slug, t.version] })],
);

/** The version of each prompt an organisation uses now; 0 means the built-in default text. */
export const salesPrompts = pgTable(
  "sales_prompts",
  {
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    slug: text("slug").notNull(),
    currentVersion: integer("current_version").notNull(),
    /** The highest version written, so the next one is known without scanning the versions. */
    latestVersion: integer("latest_version").notNull(),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.slug] })],
);

/** One row per model call of the sales chatbot: what it used, what it cost, how it was priced. */
export const chatbotUsageEvents = pgTable(
  "chatbot_usage_events",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    conversationId: text("conversation_id"),
    contactId: text("contact_id"),
    agent: text("agent", { enum: SALES_AGENTS }).notNull(),
    provider: text("provider", { enum: LLM_PROVIDER_NAMES }).notNull(),
    model: text("model").notNull(),
    inputTokens: integer("input_tokens").notNull(),
    outputTokens: integer("output_tokens").notNull(),
    /** Credits charged (less than the price only when the balance ran out mid-conversation). */
    credits: integer("credits").notNull(),
    /** The price-map cost of the call in US dollars, before rounding to whole credits. */
    costUsd: numeric("cost_usd", { precision: 14, scale: 6 }).notNull(),
    priceSource: text("price_source", { enum: ["exact", "prefix", "provider_default"] }).notNull(),
    at: timestamp("at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [index("chatbot_usage_events_org_at_idx").on(t.orgId, t.at), index("chatbot_usage_events_org_contact_at_idx").on(t.orgId, t.contactId, t.at)],
);
