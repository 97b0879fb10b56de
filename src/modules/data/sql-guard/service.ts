import type { ServiceCtx } from "../../../lib/context";
import { assertCan } from "../../identity/auth/principal";
import { checkSql } from "./check";
import type { CheckSqlInput, SqlCheckView } from "./schemas";

/** The guard as a lint: parses and judges the SQL under the given allow-lists; nothing runs. */
export async function lintSql(ctx: ServiceCtx, input: CheckSqlInput): Promise<SqlCheckView> {
  assertCan(ctx, "sql:query");
  return checkSql(input.sql, {
    ...(input.allowed_schemas ? { allowedSchemas: input.allowed_schemas } : {}),
    ...(input.allowed_tables ? { allowedTables: input.allowed_tables } : {}),
    ...(input.default_schema ? { defaultSchema: input.default_schema } : {}),
  });
}
