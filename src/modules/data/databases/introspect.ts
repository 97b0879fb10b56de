import type { IntrospectedTable } from "../../../db/schema";
import type { LinkedSql } from "./connection";

/**
 * Every table, view and materialised view the linked role may read, outside the system schemas,
 * with columns, primary and foreign keys, comments and the planner's row estimate. One query, so
 * a large schema costs one round trip.
 */
const INTROSPECTION_SQL = `
select n.nspname as schema,
       c.relname as name,
       case c.relkind when 'v' then 'view' when 'm' then 'materialized_view' else 'table' end as kind,
       obj_description(c.oid, 'pg_class') as comment,
       case when c.reltuples < 0 then null else c.reltuples::bigint end as row_estimate,
       coalesce((select json_agg(json_build_object('name', a.attname, 'type', format_type(a.atttypid, a.atttypmod),
                                                   'nullable', not a.attnotnull, 'comment', col_description(c.oid, a.attnum))
                                 order by a.attnum)
                   from pg_attribute a where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped), '[]') as columns,
       coalesce((select json_agg(a.attname order by k.ord)
                   from pg_constraint con, unnest(con.conkey) with ordinality k(attnum, ord)
                   join pg_attribute a on a.attrelid = c.oid and a.attnum = k.attnum
                  where con.conrelid = c.oid and con.contype = 'p'), '[]') as primary_key,
       coalesce((select json_agg(json_build_object(
                   'columns', (select json_agg(a.attname order by k.ord) from unnest(con.conkey) with ordinality k(attnum, ord)
                                 join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.attnum),
                   'references', json_build_object('schema', rn.nspname, 'table', rc.relname,
                     'columns', (select json_agg(a.attname order by k.ord) from unnest(con.confkey) with ordinality k(attnum, ord)
                                   join pg_attribute a on a.attrelid = con.confrelid and a.attnum = k.attnum))))
                   from pg_constraint con
                   join pg_class rc on rc.oid = con.confrelid
                   join pg_namespace rn on rn.oid = rc.relnamespace
                  where con.conrelid = c.oid and con.contype = 'f'), '[]') as foreign_keys
  from pg_class c
  join pg_namespace n on n.oid = c.relnamespace
 where c.relkind in ('r', 'p', 'v', 'm')
   and n.nspname not in ('pg_catalog', 'information_schema')
   and n.nspname not like 'pg\\_toast%' and n.nspname not like 'pg\\_temp%'
   and has_table_privilege(c.oid, 'SELECT')
 order by 1, 2`;

/**
 * Whether the linked role can change anything: a superuser or a role that creates roles or
 * databases, or write privileges on any table we can see.
 */
const CAN_WRITE_SQL = `
select (select rolsuper or rolcreaterole or rolcreatedb from pg_roles where rolname = current_user)
    or exists (select 1 from pg_class c join pg_namespace n on n.oid = c.relnamespace
                where c.relkind in ('r', 'p') and n.nspname not in ('pg_catalog', 'information_schema')
                  and has_table_privilege(c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE')) as can_write`;

interface IntrospectionRow {
  schema: string;
  name: string;
  kind: IntrospectedTable["kind"];
  comment: string | null;
  row_estimate: string | null;
  columns: string | IntrospectedTable["columns"];
  primary_key: string | string[];
  foreign_keys: string | IntrospectedTable["foreign_keys"];
}

/** json columns arrive as text when the connection parses no types. */
function json<T>(value: string | T): T {
  return typeof value === "string" ? (JSON.parse(value) as T) : value;
}

export async function introspect(sql: LinkedSql): Promise<{ tables: IntrospectedTable[]; roleCanWrite: boolean }> {
  const rows = (await sql.unsafe(INTROSPECTION_SQL)) as unknown as IntrospectionRow[];
  const [write] = (await sql.unsafe(CAN_WRITE_SQL)) as unknown as { can_write: string | boolean }[];
  const tables = rows.map((row) => ({
    schema: row.schema,
    name: row.name,
    kind: row.kind,
    comment: row.comment,
    row_estimate: row.row_estimate === null ? null : Number(row.row_estimate),
    columns: json(row.columns),
    primary_key: json(row.primary_key),
    foreign_keys: json(row.foreign_keys),
  }));
  return { tables, roleCanWrite: write?.can_write === true || write?.can_write === "t" };
}

/** The tables a linked database exposes after its allow-lists; empty lists allow everything. */
export function visibleTables(tables: IntrospectedTable[], allowedSchemas: string[], allowedTables: string[]): IntrospectedTable[] {
  return tables.filter(
    (t) =>
      (allowedSchemas.length === 0 || allowedSchemas.includes(t.schema)) && (allowedTables.length === 0 || allowedTables.includes(`${t.schema}.${t.name}`)),
  );
}
