import { z } from "@hono/zod-openapi";
import { QUERY_RUN_STATUSES } from "../../../db/schema";
import { pathId } from "../../../lib/openapi";
import { pageQuery, pageSchema } from "../../../lib/pagination";

const DATABASE_ID_EXAMPLE = "ldb_01JD3X6W6X8Q3M1B0V4T2Y9ZKA";
const RUN_ID_EXAMPLE = "qrn_01JD3X6W6X8Q3M1B0V4T2Y9ZKB";
const CONVERSATION_ID_EXAMPLE = "qcv_01JD3X6W6X8Q3M1B0V4T2Y9ZKC";

export const ChatBody = z
  .object({
    database_id: z.string().min(1).max(100).openapi({ description: "The linked database to ask", example: DATABASE_ID_EXAMPLE }),
    prompt: z.string().trim().min(1).max(4000).openapi({ description: "The question, in plain language", example: "Top 5 customers by total spend" }),
    conversation_id: z
      .string()
      .min(1)
      .max(100)
      .optional()
      .openapi({ description: "Continue a conversation: earlier questions and SQL are given to the model", example: CONVERSATION_ID_EXAMPLE }),
    execute: z.boolean().default(true).openapi({ description: "Run the SQL (default) or only write it", example: true }),
    model: z
      .string()
      .trim()
      .min(1)
      .max(100)
      .optional()
      .openapi({ description: "Model to write the SQL (default SQL_MODEL); any model of the configured OpenAI-compatible provider", example: "gpt-4o-mini" }),
  })
  .openapi("QueryChatRequest");

const Usage = z
  .object({
    prompt_tokens: z.number().int().openapi({ description: "Tokens sent to the model (all rounds)", example: 1830 }),
    completion_tokens: z.number().int().openapi({ description: "Tokens the model wrote (all rounds)", example: 96 }),
    credits: z.number().int().openapi({ description: "Credits charged", example: 2 }),
  })
  .openapi("QueryUsage");

export const ChatResult = z
  .object({
    id: z.string().openapi({ description: "Query id (see history and feedback)", example: RUN_ID_EXAMPLE }),
    conversation_id: z.string().openapi({ description: "Pass back to continue the conversation", example: CONVERSATION_ID_EXAMPLE }),
    sql: z.string().openapi({ description: "The SQL that was run (after a repair, the repaired one)", example: "SELECT ..." }),
    explanation: z.string().openapi({ description: "The model's account of the SQL", example: "Sums invoice totals per customer." }),
    executed: z.boolean().openapi({ description: "Whether the SQL ran", example: true }),
    repaired: z.boolean().openapi({ description: "Whether the first SQL failed and the model fixed it", example: false }),
    columns: z
      .array(
        z.object({
          name: z.string().openapi({ description: "Column name", example: "total" }),
          type_oid: z.number().int().openapi({ description: "Postgres type oid", example: 1700 }),
        }),
      )
      .openapi({ description: "Result columns", example: [] }),
    rows: z.array(z.array(z.unknown())).openapi({ description: "Result rows, as arrays in column order", example: [] }),
    row_count: z.number().int().openapi({ description: "Rows returned", example: 5 }),
    truncated: z.boolean().openapi({ description: "Whether the row or byte cap cut the result", example: false }),
    duration_ms: z.number().int().openapi({ description: "Time spent running the SQL", example: 12 }),
    usage: Usage,
  })
  .openapi("QueryChatResult");

export const HistoryQuery = pageQuery({ defaultLimit: 50, cursorExample: RUN_ID_EXAMPLE }).extend({
  database_id: z.string().min(1).max(100).optional().openapi({ description: "Only this database's queries", example: DATABASE_ID_EXAMPLE }),
  conversation_id: z.string().min(1).max(100).optional().openapi({ description: "Only this conversation", example: CONVERSATION_ID_EXAMPLE }),
});

export const HistoryEntry = z
  .object({
    id: z.string().openapi({ description: "Query id", example: RUN_ID_EXAMPLE }),
    database_id: z.string().openapi({ description: "The database asked", example: DATABASE_ID_EXAMPLE }),
    conversation_id: z.string().openapi({ description: "Its conversation", example: CONVERSATION_ID_EXAMPLE }),
    prompt: z.string().openapi({ description: "The question", example: "Top 5 customers by total spend" }),
    source: z.enum(["text", "voice"]).openapi({ description: "text: typed; voice: spoken to /v1/query/audio-chat and transcribed", example: "text" }),
    sql: z.string().nullable().openapi({ description: "The SQL written (null if the model gave none)", example: "SELECT ..." }),
    status: z.enum(QUERY_RUN_STATUSES).openapi({ description: "succeeded, failed (the database refused it) or refused (the guard did)", example: "succeeded" }),
    error: z.string().nullable().openapi({ description: "Why it failed or was refused", example: null }),
    row_count: z.number().int().nullable().openapi({ description: "Rows returned", example: 5 }),
    duration_ms: z.number().int().nullable().openapi({ description: "Time spent running the SQL", example: 12 }),
    usage: Usage,
    user_id: z.string().nullable().openapi({ description: "Who asked (a user)", example: "usr_01JD3X6W6X8Q3M1B0V4T2Y9ZKD" }),
    api_key_id: z.string().nullable().openapi({ description: "Who asked (an API key)", example: null }),
    feedback: z
      .object({
        correct: z.boolean().openapi({ description: "Whether the SQL answered the question", example: true }),
        corrected_sql: z.string().nullable().openapi({ description: "The SQL that should have been written", example: null }),
      })
      .nullable()
      .openapi({ description: "Feedback given on this query", example: null }),
    created_at: z.string().openapi({ description: "When it was asked", example: "2026-05-01T12:00:00.000Z" }),
  })
  .openapi("QueryHistoryEntry");

export const HistoryList = pageSchema(HistoryEntry, "QueryHistory", {
  data: "Queries, newest first",
  nextCursor: "Pass as `cursor` for the next (older) page; null on the last page",
});

export const RunIdParam = z.object({
  id: pathId("id", "qrn", "Query id", RUN_ID_EXAMPLE),
});

export const FeedbackBody = z
  .object({
    correct: z.boolean().openapi({ description: "Whether the SQL answered the question", example: false }),
    corrected_sql: z
      .string()
      .trim()
      .min(1)
      .max(20_000)
      .optional()
      .openapi({ description: "The right SQL, when it was wrong; it must pass the SQL guard", example: "SELECT ..." }),
  })
  .refine((body) => !(body.correct && body.corrected_sql), { message: "corrected_sql is only for a query marked incorrect", path: ["corrected_sql"] })
  .openapi("QueryFeedbackRequest");

export type ChatInput = z.input<typeof ChatBody>;
export type ChatResultView = z.infer<typeof ChatResult>;
export type HistoryInput = z.infer<typeof HistoryQuery>;
export type HistoryEntryView = z.infer<typeof HistoryEntry>;
export type FeedbackInput = z.infer<typeof FeedbackBody>;
