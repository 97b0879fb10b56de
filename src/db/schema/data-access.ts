import { sql } from "drizzle-orm";
import { boolean, index, integer, jsonb, pgTable, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";
import { organizations, users } from "./tenancy";

/** One column of a linked database, as introspected. */
export interface IntrospectedColumn {
  name: string;
  type: string;
  nullable: boolean;
  comment: string | null;
}

/** One table (or view) of a linked database, as introspected. */
export interface IntrospectedTable {
  schema: string;
  name: string;
  kind: "table" | "view" | "materialized_view";
  comment: string | null;
  row_estimate: number | null;
  columns: IntrospectedColumn[];
  primary_key: string[];
  foreign_keys: { columns: string[]; references: { schema: string; table: string; columns: string[] } }[];
}

/**
 * Customers' own Postgres databases. The connection URL is sealed with AES-GCM (src/lib/secret-box.ts,
 * key id inside the sealed text) and never returned or logged: only host and database name are.
 */
export const linkedDatabases = pgTable(
  "linked_databases",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    urlSealed: text("url_sealed").notNull(),
    keyId: text("key_id").notNull(),
    host: text("host").notNull(),
    databaseName: text("database_name").notNull(),
    /** Empty means every schema but the system ones. */
    allowedSchemas: text("allowed_schemas").array().notNull().default(sql`'{}'::text[]`),
    /** Empty means every table of the allowed schemas; entries are `schema.table`. */
    allowedTables: text("allowed_tables").array().notNull().default(sql`'{}'::text[]`),
    schemaCache: jsonb("schema_cache").$type<IntrospectedTable[]>().notNull(),
    schemaRefreshedAt: timestamp("schema_refreshed_at", { withTimezone: true, mode: "date" }).notNull(),
    /** Whether the linked role could write when last checked (we recommend a read-only role). */
    roleCanWrite: boolean("role_can_write").notNull(),
    createdBy: text("created_by").references(() => users.id, { onDelete: "set null" }),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex("linked_databases_org_name_key").on(t.orgId, sql`lower(${t.name})`), index("linked_databases_org_idx").on(t.orgId, t.id)],
);

export const QUERY_RUN_STATUSES = ["succeeded", "failed", "refused"] as const;

/** Every question asked of a linked database: the history, the conversation memory and the few-shot source. */
export const queryRuns = pgTable(
  "query_runs",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    databaseId: text("database_id")
      .notNull()
      .references(() => linkedDatabases.id, { onDelete: "cascade" }),
    conversationId: text("conversation_id").notNull(),
    prompt: text("prompt").notNull(),
    sql: text("sql"),
    explanation: text("explanation"),
    status: text("status", { enum: QUERY_RUN_STATUSES }).notNull(),
    error: text("error"),
    rowCount: integer("row_count"),
    durationMs: integer("duration_ms"),
    promptTokens: integer("prompt_tokens").notNull().default(0),
    completionTokens: integer("completion_tokens").notNull().default(0),
    credits: integer("credits").notNull().default(0),
    /** How the question was asked: typed, or spoken and transcribed (`/v1/query/audio-chat`). */
    source: text("source", { enum: ["text", "voice"] })
      .notNull()
      .default("text"),
    userId: text("user_id").references(() => users.id, { onDelete: "set null" }),
    apiKeyId: text("api_key_id"),
    /** Set by feedback: true marks the pair a good example; false with corrected_sql adds the correction. */
    feedbackCorrect: boolean("feedback_correct"),
    correctedSql: text("corrected_sql"),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [index("query_runs_org_db_idx").on(t.orgId, t.databaseId, t.id), index("query_runs_conversation_idx").on(t.orgId, t.conversationId, t.id)],
);

/** Question/SQL pairs a person confirmed, given to the model as few-shot examples for that database. */
export const queryExamples = pgTable(
  "query_examples",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    databaseId: text("database_id")
      .notNull()
      .references(() => linkedDatabases.id, { onDelete: "cascade" }),
    question: text("question").notNull(),
    sql: text("sql").notNull(),
    sourceRunId: text("source_run_id").references(() => queryRuns.id, { onDelete: "set null" }),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [index("query_examples_db_idx").on(t.orgId, t.databaseId, t.id), uniqueIndex("query_examples_source_key").on(t.sourceRunId)],
);

/** Reusable parameterised queries (`$1..$n`) with a JSON Schema for their parameters. */
export const sqlTools = pgTable(
  "sql_tools",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    databaseId: text("database_id")
      .notNull()
      .references(() => linkedDatabases.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    description: text("description").notNull(),
    sqlTemplate: text("sql_template").notNull(),
    /** JSON Schema of `{params}`: an object whose properties are named p1..pn or by name with `position`. */
    parameters: jsonb("parameters").$type<Record<string, unknown>>().notNull(),
    createdBy: text("created_by").references(() => users.id, { onDelete: "set null" }),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex("sql_tools_org_name_key").on(t.orgId, sql`lower(${t.name})`), index("sql_tools_org_idx").on(t.orgId, t.id)],
);
