import { z } from "@hono/zod-openapi";
import { pathId } from "../../../lib/openapi";
import { pageQuery, pageSchema } from "../../../lib/pagination";

const TOOL_ID_EXAMPLE = "tool_01JD3X6W6X8Q3M1B0V4T2Y9ZKA";
const DATABASE_ID_EXAMPLE = "ldb_01JD3X6W6X8Q3M1B0V4T2Y9ZKA";

const PARAMETERS_EXAMPLE = {
  type: "object",
  properties: { country: { type: "string", description: "Billing country" }, limit: { type: "integer", minimum: 1, maximum: 100 } },
  required: ["country"],
};

const ParametersSchema = z.record(z.string(), z.unknown()).openapi({
  description: "JSON Schema (type object) of the parameters; its properties, in order, are bound to $1..$n",
  example: PARAMETERS_EXAMPLE,
});

export const CreateToolBody = z
  .object({
    database_id: z.string().min(1).max(100).openapi({ description: "The linked database the tool queries", example: DATABASE_ID_EXAMPLE }),
    name: z
      .string()
      .trim()
      .regex(/^[a-z][a-z0-9_]{0,63}$/, "Use lower_snake_case, starting with a letter (agents call tools by this name)")
      .openapi({ description: "Name agents call the tool by, unique in the organisation", example: "customers_by_country" }),
    description: z
      .string()
      .trim()
      .min(1)
      .max(1000)
      .openapi({ description: "What the tool answers, for the agents that choose it", example: "Customers in a country" }),
    prompt: z.string().trim().min(1).max(4000).optional().openapi({
      description: "Describe the query; the model writes the SQL template and its parameters (charged in credits)",
      example: "Customers of a given country",
    }),
    sql: z.string().trim().min(1).max(20_000).optional().openapi({
      description: "The SQL template, with $1..$n for the parameters",
      example: "SELECT first_name, last_name FROM customer WHERE country = $1 LIMIT $2",
    }),
    parameters: ParametersSchema.optional(),
    parameter_order: z
      .array(z.string().min(1).max(64))
      .max(50)
      .optional()
      .openapi({ description: "Parameter names for $1..$n (default: the order of the schema's properties)", example: ["country", "limit"] }),
    model: z
      .string()
      .trim()
      .min(1)
      .max(100)
      .optional()
      .openapi({ description: "Model that writes SQL from `prompt` (default SQL_MODEL)", example: "gpt-4o-mini" }),
  })
  .refine((body) => (body.prompt === undefined) !== (body.sql === undefined), { message: "Send either prompt or sql", path: ["sql"] })
  .openapi("CreateToolRequest");

export const Tool = z
  .object({
    id: z.string().openapi({ description: "Tool id", example: TOOL_ID_EXAMPLE }),
    database_id: z.string().openapi({ description: "The database it queries", example: DATABASE_ID_EXAMPLE }),
    name: z.string().openapi({ description: "Name agents call it by", example: "customers_by_country" }),
    description: z.string().openapi({ description: "What it answers", example: "Customers in a country" }),
    sql: z.string().openapi({ description: "The SQL template", example: "SELECT first_name, last_name FROM customer WHERE country = $1 LIMIT $2" }),
    parameters: ParametersSchema,
    parameter_order: z.array(z.string()).openapi({ description: "Parameter names for $1..$n", example: ["country", "limit"] }),
    created_at: z.string().openapi({ description: "When it was made", example: "2026-05-01T12:00:00.000Z" }),
  })
  .openapi("Tool");

export const ToolCreated = Tool.extend({
  usage: z
    .object({
      prompt_tokens: z.number().int().openapi({ description: "Tokens sent to the model", example: 900 }),
      completion_tokens: z.number().int().openapi({ description: "Tokens the model wrote", example: 80 }),
      credits: z.number().int().openapi({ description: "Credits charged", example: 1 }),
    })
    .nullable()
    .openapi({ description: "Model usage when the tool was written from a prompt", example: null }),
}).openapi("ToolCreated");

export const ToolList = pageSchema(Tool, "ToolList", { data: "Tools, oldest first" });
export const ToolListQuery = pageQuery({ defaultLimit: 50, cursorExample: TOOL_ID_EXAMPLE }).extend({
  database_id: z.string().min(1).max(100).optional().openapi({ description: "Only tools of this database", example: DATABASE_ID_EXAMPLE }),
});

export const ToolIdParam = z.object({
  id: pathId("id", "tool", "Tool id", TOOL_ID_EXAMPLE),
});

export const ExecuteToolBody = z
  .object({
    params: z
      .record(z.string(), z.unknown())
      .default({})
      .openapi({ description: "Values for the tool's parameters", example: { country: "Brazil", limit: 5 } }),
  })
  .openapi("ExecuteToolRequest");

export const ToolResult = z
  .object({
    columns: z
      .array(
        z.object({
          name: z.string().openapi({ description: "Column name", example: "first_name" }),
          type_oid: z.number().int().openapi({ description: "Postgres type oid", example: 25 }),
        }),
      )
      .openapi({ description: "Result columns", example: [] }),
    rows: z.array(z.array(z.unknown())).openapi({ description: "Rows, as arrays in column order", example: [] }),
    row_count: z.number().int().openapi({ description: "Rows returned", example: 5 }),
    truncated: z.boolean().openapi({ description: "Whether the row or byte cap cut the result", example: false }),
    duration_ms: z.number().int().openapi({ description: "Time spent running the SQL", example: 9 }),
  })
  .openapi("ToolResult");

export type CreateToolInput = z.infer<typeof CreateToolBody>;
export type ToolView = z.infer<typeof Tool>;
export type ToolCreatedView = z.infer<typeof ToolCreated>;
export type ToolListInput = z.infer<typeof ToolListQuery>;
export type ToolResultView = z.infer<typeof ToolResult>;
