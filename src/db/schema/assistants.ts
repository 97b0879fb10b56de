import { sql } from "drizzle-orm";
import { customType, index, integer, jsonb, pgTable, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";
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
    /** The Idempotency-Key it was created with (prefixed by the operation), and its request's fingerprint. */
    idempotencyKey: text("idempotency_key"),
    idempotencyFingerprint: text("idempotency_fingerprint"),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [
    index("assistants_org_idx").on(t.orgId, t.id),
    index("assistants_agent_idx").on(t.agentId),
    uniqueIndex("assistants_idempotency_idx").on(t.orgId, t.idempotencyKey).where(sql`${t.idempotencyKey} is not null`),
  ],
);

export const BOOKING_STATUSES = ["confirmed", "cancelled"] as const;
export const BOOKING_SOURCES = ["api", "call", "chat"] as const;
/** How a booking's customer asked to be told about it; `none` sends nothing, reminders included. */
export const BOOKING_NOTIFY = ["sms", "whatsapp", "email", "none"] as const;

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
    /** The channel the booking asked for (null: the default by what it carries), kept so its reminder goes the same way. */
    notify: text("notify", { enum: BOOKING_NOTIFY }),
    /** When the reminder before the appointment was claimed for sending; cleared by a reschedule. */
    remindedAt: timestamp("reminded_at", { withTimezone: true, mode: "date" }),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [
    index("bookings_assistant_idx").on(t.orgId, t.assistantId, t.id),
    index("bookings_assistant_start_idx").on(t.assistantId, t.startAt),
    uniqueIndex("bookings_idempotency_idx").on(t.orgId, t.idempotencyKey).where(sql`${t.idempotencyKey} is not null`),
  ],
);

export const DOCUMENT_KINDS = ["pdf", "txt", "md", "html"] as const;
export const DOCUMENT_STATUSES = ["queued", "processing", "ready", "failed"] as const;
export type DocumentKind = (typeof DOCUMENT_KINDS)[number];
export type DocumentStatus = (typeof DOCUMENT_STATUSES)[number];

/** Raw bytes (`bytea`) as a Uint8Array; drizzle has no built-in column for it. */
const bytea = customType<{ data: Uint8Array; driverData: Uint8Array }>({ dataType: () => "bytea" });

/**
 * A file of an assistant's knowledge base. The original lives in R2 (`r2_key`, under the
 * organisation); its text is split into `document_chunks`, which are the source of truth the
 * assistant's KnowledgeBase Durable Object index is built (and can be rebuilt) from.
 */
export const knowledgeDocuments = pgTable(
  "knowledge_documents",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    assistantId: text("assistant_id")
      .notNull()
      .references(() => assistants.id, { onDelete: "cascade" }),
    filename: text("filename").notNull(),
    /** The title found in the content (PDF metadata, HTML <title>, first heading or line); indexed with every chunk. */
    title: text("title"),
    /** Decided from the content, not from the name. */
    kind: text("kind", { enum: DOCUMENT_KINDS }).notNull(),
    sizeBytes: integer("size_bytes").notNull(),
    sha256: text("sha256").notNull(),
    r2Key: text("r2_key").notNull(),
    status: text("status", { enum: DOCUMENT_STATUSES }).notNull().default("queued"),
    failureReason: text("failure_reason"),
    /** Times the stuck-document job queued this indexing again (a lost queue message); reset by a reindex. */
    requeues: integer("requeues").notNull().default(0),
    chunks: integer("chunks").notNull().default(0),
    characters: integer("characters").notNull().default(0),
    /** The embeddings model and size the chunks were embedded with; null when indexed for words only. */
    embeddingModel: text("embedding_model"),
    embeddingDimensions: integer("embedding_dimensions"),
    indexedAt: timestamp("indexed_at", { withTimezone: true, mode: "date" }),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [
    index("knowledge_documents_assistant_idx").on(t.orgId, t.assistantId, t.id),
    index("knowledge_documents_status_idx").on(t.assistantId, t.status),
    // The stuck-document job looks for documents waiting longest, across all organisations.
    index("knowledge_documents_pending_idx").on(t.updatedAt).where(sql`${t.status} in ('queued', 'processing')`),
  ],
);

/**
 * One chunk of a document's text (about 512 characters, split on paragraph and sentence
 * boundaries with overlap) and, when embeddings are configured, its vector as little-endian
 * float32 bytes: an index rebuilt from these rows needs no embeddings call.
 */
export const documentChunks = pgTable(
  "document_chunks",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    assistantId: text("assistant_id")
      .notNull()
      .references(() => assistants.id, { onDelete: "cascade" }),
    documentId: text("document_id")
      .notNull()
      .references(() => knowledgeDocuments.id, { onDelete: "cascade" }),
    ordinal: integer("ordinal").notNull(),
    text: text("text").notNull(),
    embedding: bytea("embedding"),
  },
  (t) => [uniqueIndex("document_chunks_document_idx").on(t.documentId, t.ordinal), index("document_chunks_assistant_idx").on(t.assistantId, t.id)],
);
