import { z } from "@hono/zod-openapi";
import { pathId } from "../../../lib/openapi";
import { pageQuery, pageSchema } from "../../../lib/pagination";

const DATABASE_ID_EXAMPLE = "ldb_01JD3X6W6X8Q3M1B0V4T2Y9ZKA";

const Identifier = z
  .string()
  .trim()
  .min(1)
  .max(63)
  .regex(/^[^.\s"]+$/, "A plain name, without dots, spaces or quotes");

export const CreateDatabaseBody = z
  .object({
    name: z.string().trim().min(1).max(100).openapi({ description: "A name for this database, unique in the organisation", example: "Shop analytics" }),
    url: z.string().trim().min(1).max(2000).openapi({
      description: "postgres:// connection URL. Stored encrypted and never returned or logged. Use a read-only role.",
      example: "postgres://readonly:secret@db.example.com:5432/shop?sslmode=require",
    }),
    allowed_schemas: z
      .array(Identifier)
      .max(50)
      .optional()
      .openapi({ description: "Only these schemas may be queried (default: every schema the role can read)", example: ["public"] }),
    allowed_tables: z
      .array(
        z
          .string()
          .trim()
          .regex(/^[^.\s"]+\.[^.\s"]+$/, "Write tables as schema.table"),
      )
      .max(500)
      .optional()
      .openapi({ description: "Only these tables (schema.table) may be queried (default: every table of the allowed schemas)", example: ["public.invoice"] }),
  })
  .openapi("LinkDatabaseRequest");

export const DatabaseIdParam = z.object({
  id: pathId("id", "ldb", "Linked database id", DATABASE_ID_EXAMPLE),
});

const Column = z
  .object({
    name: z.string().openapi({ description: "Column name", example: "invoice_id" }),
    type: z.string().openapi({ description: "Postgres type", example: "integer" }),
    nullable: z.boolean().openapi({ description: "Whether it may be null", example: false }),
    comment: z.string().nullable().openapi({ description: "The column's comment", example: null }),
  })
  .openapi("LinkedColumn");

export const Table = z
  .object({
    schema: z.string().openapi({ description: "Schema", example: "public" }),
    name: z.string().openapi({ description: "Table or view name", example: "invoice" }),
    kind: z.enum(["table", "view", "materialized_view"]).openapi({ description: "What it is", example: "table" }),
    comment: z.string().nullable().openapi({ description: "The table's comment", example: null }),
    row_estimate: z.number().int().nullable().openapi({ description: "The planner's row estimate (null before ANALYZE)", example: 412 }),
    columns: z.array(Column).openapi({ description: "Columns in order", example: [] }),
    primary_key: z.array(z.string()).openapi({ description: "Primary key columns", example: ["invoice_id"] }),
    foreign_keys: z
      .array(
        z.object({
          columns: z.array(z.string()).openapi({ description: "Referencing columns", example: ["customer_id"] }),
          references: z
            .object({
              schema: z.string().openapi({ description: "Referenced schema", example: "public" }),
              table: z.string().openapi({ description: "Referenced table", example: "customer" }),
              columns: z.array(z.string()).openapi({ description: "Referenced columns", example: ["customer_id"] }),
            })
            .openapi({ description: "What they reference", example: { schema: "public", table: "customer", columns: ["customer_id"] } }),
        }),
      )
      .openapi({ description: "Foreign keys", example: [] }),
  })
  .openapi("LinkedTable");

export const LinkedDatabase = z
  .object({
    id: z.string().openapi({ description: "Linked database id", example: DATABASE_ID_EXAMPLE }),
    name: z.string().openapi({ description: "Its name", example: "Shop analytics" }),
    host: z.string().openapi({ description: "Host it connects to (the URL itself is never shown)", example: "db.example.com" }),
    database: z.string().openapi({ description: "Database name", example: "shop" }),
    allowed_schemas: z.array(z.string()).openapi({ description: "Schemas that may be queried; empty means all", example: ["public"] }),
    allowed_tables: z.array(z.string()).openapi({ description: "Tables that may be queried; empty means all of the allowed schemas", example: [] }),
    table_count: z.number().int().openapi({ description: "Tables and views that may be queried", example: 11 }),
    role_can_write: z.boolean().openapi({ description: "Whether the linked role can change data (queries still run read-only)", example: false }),
    warnings: z.array(z.string()).openapi({ description: "Things to fix, e.g. a role that can write", example: [] }),
    schema_refreshed_at: z.string().openapi({ description: "When the schema was last read", example: "2026-05-01T12:00:00.000Z" }),
    created_at: z.string().openapi({ description: "When it was linked", example: "2026-05-01T12:00:00.000Z" }),
  })
  .openapi("LinkedDatabase");

export const LinkedDatabaseDetail = LinkedDatabase.extend({
  tables: z.array(Table).openapi({ description: "The tables and views that may be queried, as last introspected", example: [] }),
}).openapi("LinkedDatabaseDetail");

export const LinkedDatabaseList = pageSchema(LinkedDatabase, "LinkedDatabaseList", { data: "Linked databases, oldest first" });
export const LinkedDatabaseListQuery = pageQuery({ defaultLimit: 50, cursorExample: DATABASE_ID_EXAMPLE });

export type CreateDatabaseInput = z.infer<typeof CreateDatabaseBody>;
export type LinkedDatabaseView = z.infer<typeof LinkedDatabase>;
export type LinkedDatabaseDetailView = z.infer<typeof LinkedDatabaseDetail>;
