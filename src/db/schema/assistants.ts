import { sql } from "drizzle-orm";
import { index, integer, jsonb, pgTable, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";
import { linkedDatabases } from "./data-access";
import { agents } from "./monetisation";
import { organizations } from "./tenancy";

export const ASSISTANT_STATUSES = ["active", "archived"] as const;
export const ASSISTANT_WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] as const;
export const ASSISTANT_TOOLS = [
  "check_availability",
  "book_appointment",
  "cancel_booking",
  "search_knowledge",
  "ask_database",
  "transfer_call",
  "end_call",
] as const;
export type AssistantWeekday = (typeof ASSISTANT_WEEKDAYS)[number];
export type AssistantTool = (typeof ASSISTANT_TOOLS)[number];
/** Opening ranges per weekday, `[["09:00", "12:00"]]`; a weekday left out is closed. */
export type AssistantWeeklyHours = Partial<Record<AssistantWeekday, [string, string][]>>;

/**
 * An organisation's AI receptionist: who it is, the business it answers for, its booking rules
 * and its voice. Each one is also an agent of the usage module (`agent_id`), so its calls are
 * metered and billed like any agent's.
 */
export const assistants = pgTable(
  "assistants",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    agentId: text("agent_id")
      .notNull()
      .references(() => agents.id),
    name: text("name").notNull(),
    businessName: text("business_name").notNull(),
    businessDescription: text("business_description"),
    timezone: text("timezone").notNull(),
    weeklyHours: jsonb("weekly_hours").$type<AssistantWeeklyHours>().notNull().default({}),
    slotDuration: integer("slot_duration").notNull().default(30),
    bufferMinutes: integer("buffer_minutes").notNull().default(0),
    minNoticeMinutes: integer("min_notice_minutes").notNull().default(60),
    horizonDays: integer("horizon_days").notNull().default(60),
    closedDates: jsonb("closed_dates").$type<string[]>().notNull().default([]),
    language: text("language").notNull().default("en"),
    greeting: text("greeting"),
    instructions: text("instructions"),
    voice: text("voice").notNull(),
    tools: jsonb("tools").$type<AssistantTool[]>().notNull(),
    /** A linked database the assistant may answer from; unlinking the database clears it. */
    databaseId: text("database_id").references(() => linkedDatabases.id, { onDelete: "set null" }),
    businessPhone: text("business_phone"),
    status: text("status", { enum: ASSISTANT_STATUSES }).notNull().default("active"),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [index("assistants_org_idx").on(t.orgId, t.id), index("assistants_agent_idx").on(t.agentId)],
);

export const BOOKING_STATUSES = ["confirmed", "cancelled"] as const;
export const BOOKING_SOURCES = ["api", "call", "chat"] as const;

/**
 * A booking of one or more consecutive slots of an assistant, `[start_at, end_at)`. The migration
 * adds `bookings_no_overlap`, an exclusion constraint (btree_gist) that refuses two confirmed
 * bookings of one assistant whose ranges overlap: double booking is impossible whatever races.
 */
export const bookings = pgTable(
  "bookings",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    assistantId: text("assistant_id")
      .notNull()
      .references(() => assistants.id, { onDelete: "cascade" }),
    startAt: timestamp("start_at", { withTimezone: true, mode: "date" }).notNull(),
    endAt: timestamp("end_at", { withTimezone: true, mode: "date" }).notNull(),
    slots: integer("slots").notNull().default(1),
    customerName: text("customer_name").notNull(),
    phone: text("phone"),
    email: text("email"),
    details: text("details"),
    source: text("source", { enum: BOOKING_SOURCES }).notNull(),
    sourceId: text("source_id"),
    status: text("status", { enum: BOOKING_STATUSES }).notNull().default("confirmed"),
    idempotencyKey: text("idempotency_key"),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [
    index("bookings_assistant_idx").on(t.orgId, t.assistantId, t.id),
    index("bookings_assistant_start_idx").on(t.assistantId, t.startAt),
    uniqueIndex("bookings_idempotency_idx").on(t.orgId, t.idempotencyKey).where(sql`${t.idempotencyKey} is not null`),
  ],
);
