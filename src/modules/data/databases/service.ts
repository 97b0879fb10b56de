import { and, asc, eq, gt } from "drizzle-orm";
import { isUniqueViolation } from "../../../db/errors";
import { linkedDatabases } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { Conflict, NotFound, ProviderUnavailable, Unprocessable } from "../../../lib/errors";
import { newId } from "../../../lib/ids";
import { type Page, type PageRequest, toPage } from "../../../lib/pagination";
import { type KeyRing, open, seal } from "../../../lib/secret-box";
import { recordAudit } from "../../identity/audit/service";
import { assertCan, requireOrgId } from "../../identity/auth/principal";
import { connectionProblem, type LinkedSql, parseDatabaseUrl, withLinkedDatabase } from "./connection";
import { introspect, visibleTables } from "./introspect";
import type { CreateDatabaseInput, LinkedDatabaseDetailView, LinkedDatabaseView } from "./schemas";

export type LinkedDatabaseRow = typeof linkedDatabases.$inferSelect;

const WRITE_WARNING = "This role can change data. Queries still run in read-only transactions, but link a read-only role (GRANT SELECT only) to be safe.";

function keyRing(ctx: ServiceCtx): KeyRing {
  if (!ctx.config.dataEncryption) throw new ProviderUnavailable("DATA_ENCRYPTION_KEYS");
  return ctx.config.dataEncryption;
}

/** What the sealed URL is bound to: it opens only for the row it was sealed for. */
function sealContext(orgId: string, id: string): string {
  return `linked_database:${orgId}:${id}`;
}

function view(row: LinkedDatabaseRow): LinkedDatabaseView {
  return {
    id: row.id,
    name: row.name,
    host: row.host,
    database: row.databaseName,
    allowed_schemas: row.allowedSchemas,
    allowed_tables: row.allowedTables,
    table_count: visibleTables(row.schemaCache, row.allowedSchemas, row.allowedTables).length,
    role_can_write: row.roleCanWrite,
    warnings: row.roleCanWrite ? [WRITE_WARNING] : [],
    schema_refreshed_at: row.schemaRefreshedAt.toISOString(),
    created_at: row.createdAt.toISOString(),
  };
}

function detailView(row: LinkedDatabaseRow): LinkedDatabaseDetailView {
  return { ...view(row), tables: visibleTables(row.schemaCache, row.allowedSchemas, row.allowedTables) };
}

/**
 * Links a customer's database: checks the URL, connects, reads the schema, then stores the URL
 * sealed. Named allow-listed schemas and tables must exist, so a typo is a 422 rather than a
 * database that silently answers nothing.
 */
export async function linkDatabase(ctx: ServiceCtx, input: CreateDatabaseInput): Promise<LinkedDatabaseView> {
  assertCan(ctx, "databases:write");
  const orgId = requireOrgId(ctx);
  const ring = keyRing(ctx);
  const target = parseDatabaseUrl(input.url, ctx.config.linkedDatabases.allowPrivateHosts);
  const { tables, roleCanWrite } = await withLinkedDatabase(input.url, introspect).catch((error: unknown) => {
    throw connectionProblem(error);
  });
  const allowedSchemas = [...new Set(input.allowed_schemas ?? [])];
  const allowedTables = [...new Set(input.allowed_tables ?? [])];
  const errors = [
    ...allowedSchemas.flatMap((schema, i) =>
      tables.some((t) => t.schema === schema) ? [] : [{ path: `allowed_schemas.${i}`, message: `No readable table in schema ${schema}` }],
    ),
    ...allowedTables.flatMap((name, i) =>
      tables.some((t) => `${t.schema}.${t.name}` === name) ? [] : [{ path: `allowed_tables.${i}`, message: `No readable table ${name}` }],
    ),
  ];
  if (errors.length > 0) throw new Unprocessable(errors);

  const id = newId("ldb");
  const { sealed, keyId } = await seal(ring, input.url, sealContext(orgId, id));
  const now = ctx.now();
  try {
    const [row] = await ctx.db
      .insert(linkedDatabases)
      .values({
        id,
        orgId,
        name: input.name,
        urlSealed: sealed,
        keyId,
        host: target.host,
        databaseName: target.database,
        allowedSchemas,
        allowedTables,
        schemaCache: tables,
        schemaRefreshedAt: now,
        roleCanWrite,
        createdBy: ctx.actor?.userId ?? null,
        createdAt: now,
        updatedAt: now,
      })
      .returning();
    if (!row) throw new Error("insert returned no row");
    await recordAudit(ctx, {
      orgId,
      action: "database.linked",
      targetType: "linked_database",
      targetId: id,
      metadata: { host: target.host, database: target.database },
    });
    return view(row);
  } catch (error) {
    if (isUniqueViolation(error)) throw new Conflict(`A database named ${input.name} is already linked`);
    throw error;
  }
}

export async function getDatabaseRow(ctx: ServiceCtx, id: string): Promise<LinkedDatabaseRow> {
  const orgId = requireOrgId(ctx);
  const [row] = await ctx.db
    .select()
    .from(linkedDatabases)
    .where(and(eq(linkedDatabases.id, id), eq(linkedDatabases.orgId, orgId)));
  if (!row) throw new NotFound("linked database", id);
  return row;
}

export async function listDatabases(ctx: ServiceCtx, page: PageRequest): Promise<Page<LinkedDatabaseView>> {
  assertCan(ctx, "databases:read");
  const orgId = requireOrgId(ctx);
  const rows = await ctx.db
    .select()
    .from(linkedDatabases)
    .where(and(eq(linkedDatabases.orgId, orgId), page.cursor ? gt(linkedDatabases.id, page.cursor) : undefined))
    .orderBy(asc(linkedDatabases.id))
    .limit(page.limit + 1);
  return toPage(rows, page.limit, (r) => r.id, view);
}

export async function getDatabase(ctx: ServiceCtx, id: string): Promise<LinkedDatabaseDetailView> {
  assertCan(ctx, "databases:read");
  return detailView(await getDatabaseRow(ctx, id));
}

export async function unlinkDatabase(ctx: ServiceCtx, id: string): Promise<void> {
  assertCan(ctx, "databases:write");
  const orgId = requireOrgId(ctx);
  const deleted = await ctx.db
    .delete(linkedDatabases)
    .where(and(eq(linkedDatabases.id, id), eq(linkedDatabases.orgId, orgId)))
    .returning({ id: linkedDatabases.id });
  if (deleted.length === 0) throw new NotFound("linked database", id);
  await recordAudit(ctx, { orgId, action: "database.unlinked", targetType: "linked_database", targetId: id });
}

/**
 * Opens a connection to a linked database with its unsealed URL (which never leaves this
 * function). A URL that does not unseal is our fault (a missing key, a tampered row): it stays
 * an internal error. Failing to connect or query is the database's: `onError` says how to tell it.
 */
export async function withDatabase<T>(
  ctx: ServiceCtx,
  row: LinkedDatabaseRow,
  work: (sql: LinkedSql) => Promise<T>,
  onError: (error: unknown) => unknown = (error) => error,
): Promise<T> {
  const url = await open(keyRing(ctx), row.urlSealed, sealContext(row.orgId, row.id));
  return withLinkedDatabase(url, work).catch((error: unknown) => {
    throw onError(error);
  });
}

/** Reads the schema again (after a migration on the customer's side) and re-checks write rights. */
export async function refreshSchema(ctx: ServiceCtx, id: string): Promise<LinkedDatabaseDetailView> {
  assertCan(ctx, "databases:write");
  const row = await getDatabaseRow(ctx, id);
  const { tables, roleCanWrite } = await withDatabase(ctx, row, introspect, connectionProblem);
  const now = ctx.now();
  const [updated] = await ctx.db
    .update(linkedDatabases)
    .set({ schemaCache: tables, roleCanWrite, schemaRefreshedAt: now, updatedAt: now })
    .where(eq(linkedDatabases.id, row.id))
    .returning();
  if (!updated) throw new NotFound("linked database", id);
  return detailView(updated);
}
