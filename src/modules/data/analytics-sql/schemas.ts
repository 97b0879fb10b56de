import { z } from "@hono/zod-openapi";

const SQL_EXAMPLE =
  "SELECT c.name, sum(b.total) AS spent FROM bills b JOIN customers c ON c.id = b.customer_id WHERE b.status <> 'void' GROUP BY c.name ORDER BY spent DESC LIMIT 5";

export const AnalyticsPromptBody = z
  .object({
    prompt: z
      .string()
      .trim()
      .min(1)
      .max(4000)
      .openapi({ description: "A question about your organisation's Billx data, in plain language", example: "Top 5 customers by total billed this year" }),
    model: z
      .string()
      .trim()
      .min(1)
      .max(100)
      .optional()
      .openapi({ description: "Model to write the SQL (default SQL_MODEL); any model of the configured OpenAI-compatible provider", example: "gpt-4o-mini" }),
  })
  .openapi("AnalyticsSqlRequest");

export const AnalyticsSqlAnswer = z
  .object({
    sql: z.string().openapi({ description: "The SQL the model wrote; it passed the SQL guard. Run it with POST /v1/ai/sql/execute", example: SQL_EXAMPLE }),
    explanation: z.string().openapi({ description: "The model's account of the SQL", example: "Sums the totals of non-void bills per customer." }),
    usage: z
      .object({
        prompt_tokens: z.number().int().openapi({ description: "Tokens sent to the model", example: 2100 }),
        completion_tokens: z.number().int().openapi({ description: "Tokens the model wrote", example: 80 }),
        credits: z.number().int().openapi({ description: "Credits charged", example: 2 }),
      })
      .openapi("AnalyticsSqlUsage"),
  })
  .openapi("AnalyticsSqlAnswer");

export const AnalyticsExecuteBody = z
  .object({
    sql: z
      .string()
      .trim()
      .min(1)
      .max(20_000)
      .openapi({ description: "One SELECT over the curated Billx tables; no org filter needed", example: "SELECT count(*) FROM customers" }),
  })
  .openapi("AnalyticsExecuteRequest");

export const AnalyticsRows = z
  .object({
    columns: z
      .array(
        z.object({
          name: z.string().openapi({ description: "Column name", example: "count" }),
          type_oid: z.number().int().openapi({ description: "Postgres type oid (20 = bigint, 1700 = numeric, 1184 = timestamptz)", example: 20 }),
        }),
      )
      .openapi({ description: "Result columns, in order", example: [{ name: "count", type_oid: 20 }] }),
    rows: z
      .array(z.array(z.unknown()))
      .openapi({ description: "Rows as arrays in column order; bigint and numeric values are strings, timestamps ISO 8601 UTC", example: [["42"]] }),
    row_count: z.number().int().openapi({ description: "Rows returned", example: 1 }),
    truncated: z.boolean().openapi({ description: "Whether the row or byte cap cut the result", example: false }),
    duration_ms: z.number().int().openapi({ description: "Time spent running the SQL", example: 9 }),
  })
  .openapi("AnalyticsRows");

export type AnalyticsPromptInput = z.infer<typeof AnalyticsPromptBody>;
export type AnalyticsSqlAnswerView = z.infer<typeof AnalyticsSqlAnswer>;
export type AnalyticsExecuteInput = z.infer<typeof AnalyticsExecuteBody>;
export type AnalyticsRowsView = z.infer<typeof AnalyticsRows>;
