import { z } from "@hono/zod-openapi";

/** Longer than any query a person or a model writes; keeps one request's parse bounded. */
export const MAX_SQL_LENGTH = 50_000;

const identifier = z.string().min(1).max(128);

export const CheckSqlBody = z
  .object({
    sql: z
      .string()
      .max(MAX_SQL_LENGTH)
      .openapi({
        description: `The SQL to check (at most ${MAX_SQL_LENGTH} characters); it is parsed, never run`,
        example: "SELECT name, total FROM invoices WHERE total > 10",
      }),
    allowed_schemas: z
      .array(identifier)
      .max(100)
      .optional()
      .openapi({ description: "Schemas the SQL may read from, as the catalog names them; any schema when omitted", example: ["public"] }),
    allowed_tables: z
      .array(identifier)
      .max(1000)
      .optional()
      .openapi({
        description: "Tables the SQL may read, `schema.table` or `table` (in the default schema); any table when omitted",
        example: ["public.invoices"],
      }),
    default_schema: identifier
      .optional()
      .openapi({ description: "The schema an unqualified table name means; the first allowed schema when omitted, else `public`", example: "public" }),
  })
  .openapi("SqlCheckRequest");

export const SqlCheckReason = z
  .object({
    code: z.string().openapi({
      description:
        "Machine-readable reason: parse_error, empty, too_complex, multiple_statements, data_modification, schema_change, privilege_change, transaction_control, session_command, copy, procedural_code, notification, prepared_statement, statement_not_allowed, select_into, locking_clause, data_modifying_cte, explain_analyze, function_not_allowed, system_catalog, schema_not_allowed or table_not_allowed",
      example: "function_not_allowed",
    }),
    message: z.string().openapi({ description: "The reason in a sentence", example: "pg_sleep is not allowed: it can stall the database" }),
    position: z.number().int().optional().openapi({ description: "1-based character offset of a parse error", example: 8 }),
  })
  .openapi("SqlCheckReason");

export const SqlCheckResult = z
  .object({
    allowed: z.boolean().openapi({ description: "Whether the SQL may run", example: false }),
    statement_type: z
      .string()
      .nullable()
      .openapi({ description: "SELECT, VALUES, EXPLAIN or the refused command; null when there is not exactly one statement", example: "SELECT" }),
    tables: z
      .array(z.string())
      .openapi({ description: "Tables and views the SQL reads, schema-qualified (CTE names are not tables)", example: ["public.invoices"] }),
    functions: z.array(z.string()).openapi({ description: "Functions the SQL calls, as written", example: ["pg_sleep"] }),
    reasons: z.array(SqlCheckReason).openapi({ description: "Why the SQL may not run; empty when allowed" }),
  })
  .openapi("SqlCheckResult");

export type CheckSqlInput = z.infer<typeof CheckSqlBody>;
export type SqlCheckView = z.infer<typeof SqlCheckResult>;
