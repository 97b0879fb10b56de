/**
 * Which tables and views a guarded query may read. Names are compared as the catalog stores them
 * (unquoted identifiers are folded to lower case by the parser), after resolving an unqualified
 * name to the policy's default schema.
 */
export interface SqlPolicy {
  /** Schemas a query may read from; any schema when absent. */
  allowedSchemas?: readonly string[];
  /** Tables a query may read, as `schema.table` (or `table`, meaning the default schema); any table when absent. */
  allowedTables?: readonly string[];
  /**
   * The schema an unqualified table name means. Whoever runs the query must run it with
   * `search_path` set to exactly this schema, so the name the guard judged is the table Postgres reads.
   * Default: the first allowed schema, else `public`.
   */
  defaultSchema?: string;
}

export interface RelationProblem {
  code: "system_catalog" | "schema_not_allowed" | "table_not_allowed";
  message: string;
}

/**
 * System views that only describe the schema, which people and models read to find their way
 * around. Every other relation in `pg_catalog`, `information_schema` and the other `pg_*` schemas is
 * refused: among them are password hashes (`pg_authid`), other sessions' queries
 * (`pg_stat_activity`), server settings (`pg_settings`) and sampled column values (`pg_stats`).
 */
export const SAFE_SYSTEM_VIEWS: readonly string[] = [
  "information_schema.schemata",
  "information_schema.tables",
  "information_schema.columns",
  "information_schema.views",
  "information_schema.table_constraints",
  "information_schema.key_column_usage",
  "information_schema.referential_constraints",
  "information_schema.constraint_column_usage",
  "information_schema.check_constraints",
  "pg_catalog.pg_tables",
  "pg_catalog.pg_views",
  "pg_catalog.pg_matviews",
  "pg_catalog.pg_indexes",
];

export function defaultSchemaOf(policy: SqlPolicy): string {
  return policy.defaultSchema ?? policy.allowedSchemas?.[0] ?? "public";
}

/** `schema.name` of a relation reference; `pg_*` names without a schema are Postgres's own catalogs. */
export function qualifyRelation(schema: string | undefined, name: string, policy: SqlPolicy): string {
  // pg_catalog is searched before every schema on the search_path, and its relations all start with pg_.
  if (!schema && name.toLowerCase().startsWith("pg_")) return `pg_catalog.${name}`;
  return `${schema ?? defaultSchemaOf(policy)}.${name}`;
}

function isSystemSchema(schema: string): boolean {
  const lower = schema.toLowerCase();
  return lower === "information_schema" || lower.startsWith("pg_");
}

/** Why the relation `schema.name` (already qualified) may not be read, or null when it may. */
export function relationProblem(qualified: string, policy: SqlPolicy): RelationProblem | null {
  const dot = qualified.indexOf(".");
  const schema = qualified.slice(0, dot);
  if (isSystemSchema(schema) && !SAFE_SYSTEM_VIEWS.includes(qualified.toLowerCase())) {
    return {
      code: "system_catalog",
      message: `${qualified} is a system catalog and cannot be read; to explore the schema, use information_schema.tables and information_schema.columns`,
    };
  }
  if (policy.allowedSchemas && !policy.allowedSchemas.includes(schema)) {
    return {
      code: "schema_not_allowed",
      message: `${qualified} is not allowed: schema ${schema} is not one of the allowed schemas (${policy.allowedSchemas.join(", ") || "none"})`,
    };
  }
  if (policy.allowedTables) {
    const allowed = policy.allowedTables.map((table) => (table.includes(".") ? table : `${defaultSchemaOf(policy)}.${table}`));
    if (!allowed.includes(qualified)) return { code: "table_not_allowed", message: `${qualified} is not allowed: it is not one of the allowed tables` };
  }
  return null;
}
