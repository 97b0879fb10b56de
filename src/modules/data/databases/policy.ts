import type { ServiceCtx } from "../../../lib/context";
import type { SqlPolicy } from "../sql-guard/check";
import type { ExecutionLimits } from "./execute";
import type { LinkedDatabaseRow } from "./service";

/** What the SQL guard lets a query of this database read: its allow-lists, when it has them. */
export function guardPolicy(row: LinkedDatabaseRow): SqlPolicy {
  return {
    allowedSchemas: row.allowedSchemas.length > 0 ? row.allowedSchemas : undefined,
    allowedTables: row.allowedTables.length > 0 ? row.allowedTables : undefined,
    defaultSchema: defaultSchema(row),
  };
}

/** Unqualified names mean the first allowed schema, else `public`, for the guard and Postgres alike. */
function defaultSchema(row: LinkedDatabaseRow): string {
  return row.allowedSchemas[0] ?? "public";
}

export function executionLimits(ctx: ServiceCtx, row: LinkedDatabaseRow): ExecutionLimits {
  const { timeoutMs, maxRows, maxBytes } = ctx.config.linkedDatabases;
  return { timeoutMs, maxRows, maxBytes, searchPath: defaultSchema(row) };
}
