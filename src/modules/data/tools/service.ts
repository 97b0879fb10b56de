import type { Schema } from "@cfworker/json-schema";
import { and, asc, eq, gt } from "drizzle-orm";
import { isUniqueViolation } from "../../../db/errors";
import { sqlTools } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { BadGateway, Conflict, NotFound, Unprocessable } from "../../../lib/errors";
import { newId } from "../../../lib/ids";
import { type Page, toPage } from "../../../lib/pagination";
import { type MeteredChat, withMeteredChat } from "../../content/ai/metered-chat";
import { recordAudit } from "../../identity/audit/service";
import { assertCan, requireOrgId } from "../../identity/auth/principal";
import { isStatementError } from "../databases/connection";
import { runReadOnly } from "../databases/execute";
import { visibleTables } from "../databases/introspect";
import { executionLimits, guardPolicy } from "../databases/policy";
import { getDatabaseRow, type LinkedDatabaseRow, withDatabase } from "../databases/service";
import { describeTables, relevantTables } from "../query/schema-context";
import { type ChatMessage, estimateTokens, systemPrompt } from "../query/sql-writer";
import { checkSql } from "../sql-guard/check";
import { bindParameters, checkToolParameters, type ToolParameters } from "./parameters";
import type { CreateToolInput, ToolCreatedView, ToolListInput, ToolResultView, ToolView } from "./schemas";

export const TOOLS_FEATURE = "tools.create";

type ToolRow = typeof sqlTools.$inferSelect;

function view(row: ToolRow): ToolView {
  const parameters = row.parameters as unknown as ToolParameters;
  return {
    id: row.id,
    database_id: row.databaseId,
    name: row.name,
    description: row.description,
    sql: row.sqlTemplate,
    parameters: parameters.schema as Record<string, unknown>,
    parameter_order: parameters.order,
    created_at: row.createdAt.toISOString(),
  };
}

const DEFINE_TOOL = {
  type: "function" as const,
  function: {
    name: "define_sql_tool",
    description: "Define a reusable read-only PostgreSQL query with $1..$n placeholders and a JSON Schema of its parameters.",
    parameters: {
      type: "object",
      properties: {
        sql: { type: "string", description: "One SELECT with $1..$n placeholders where the caller's values go" },
        parameters: { type: "object", description: "JSON Schema of type object; one scalar property per placeholder, in placeholder order" },
      },
      required: ["sql", "parameters"],
    },
  },
};

/** The model writes the template and its parameter schema from a description. */
async function writeTemplate(llm: MeteredChat, row: LinkedDatabaseRow, input: CreateToolInput): Promise<{ sql: string; schema: Schema }> {
  const tables = visibleTables(row.schemaCache, row.allowedSchemas, row.allowedTables);
  const messages: ChatMessage[] = [
    {
      role: "system",
      content: systemPrompt(describeTables(relevantTables(tables, `${input.description} ${input.prompt ?? ""}`)), [
        "You are defining a reusable tool: put $1, $2, ... where the caller's values go (never literal values the caller should choose).",
        "Answer by calling define_sql_tool.",
      ]),
    },
    { role: "user", content: `Tool ${input.name}: ${input.description}\n${input.prompt ?? ""}` },
  ];
  const result = await llm.chat({ messages, tools: [DEFINE_TOOL], tool_choice: { type: "function", function: { name: "define_sql_tool" } }, temperature: 0 });
  const call = result.toolCalls.find((c) => c.name === "define_sql_tool");
  const sql = call?.arguments?.sql;
  const schema = call?.arguments?.parameters;
  if (typeof sql !== "string" || !schema || typeof schema !== "object") throw new BadGateway("The model did not define the tool");
  return { sql: sql.trim().replace(/;\s*$/, ""), schema: schema as Schema };
}

/**
 * Creates a tool from SQL, or from a prompt the model turns into SQL (metered). Either way the
 * template must pass the SQL guard and its parameters must match its placeholders.
 */
export async function createTool(ctx: ServiceCtx, input: CreateToolInput): Promise<ToolCreatedView> {
  assertCan(ctx, "tools:write");
  const orgId = requireOrgId(ctx);
  const database = await getDatabaseRow(ctx, input.database_id).catch((error: unknown) => {
    if (error instanceof NotFound) throw new Unprocessable([{ path: "database_id", message: `No linked database ${input.database_id}` }]);
    throw error;
  });

  let template: { sql: string; schema: Schema | undefined };
  let usage: ToolCreatedView["usage"] = null;
  if (input.prompt) {
    const messagesEstimate = estimateTokens([{ role: "user", content: JSON.stringify(database.schemaCache).slice(0, 40_000) }]);
    const model = input.model ?? ctx.config.linkedDatabases.sqlModel;
    const metered = await withMeteredChat(ctx, { feature: TOOLS_FEATURE, model, estimate: { inputTokens: messagesEstimate, outputTokens: 1024 } }, (llm) =>
      writeTemplate(llm, database, input),
    );
    template = metered.value;
    usage = { prompt_tokens: metered.usage.inputTokens, completion_tokens: metered.usage.outputTokens, credits: metered.credits };
  } else {
    template = { sql: input.sql ?? "", schema: input.parameters as Schema | undefined };
  }

  const verdict = await checkSql(template.sql, guardPolicy(database));
  if (!verdict.allowed)
    throw new Unprocessable(
      verdict.reasons.map((r) => ({ path: "sql", message: r.message })),
      "The SQL template does not pass the SQL guard",
    );
  const parameters = checkToolParameters(template.sql, template.schema, input.parameter_order);
  if (Array.isArray(parameters)) throw new Unprocessable(parameters, "The parameters do not match the SQL template");

  try {
    const [row] = await ctx.db
      .insert(sqlTools)
      .values({
        id: newId("tool"),
        orgId,
        databaseId: database.id,
        name: input.name,
        description: input.description,
        sqlTemplate: template.sql,
        parameters: parameters as unknown as Record<string, unknown>,
        createdBy: ctx.actor?.userId ?? null,
        createdAt: ctx.now(),
      })
      .returning();
    if (!row) throw new Error("tool insert returned no row");
    await recordAudit(ctx, { orgId, action: "tool.created", targetType: "tool", targetId: row.id, metadata: { name: row.name } });
    return { ...view(row), usage };
  } catch (error) {
    if (isUniqueViolation(error)) throw new Conflict(`A tool named ${input.name} already exists`);
    throw error;
  }
}

async function getToolRow(ctx: ServiceCtx, id: string): Promise<ToolRow> {
  const orgId = requireOrgId(ctx);
  const [row] = await ctx.db
    .select()
    .from(sqlTools)
    .where(and(eq(sqlTools.id, id), eq(sqlTools.orgId, orgId)));
  if (!row) throw new NotFound("tool", id);
  return row;
}

export async function listTools(ctx: ServiceCtx, query: ToolListInput): Promise<Page<ToolView>> {
  assertCan(ctx, "tools:read");
  const orgId = requireOrgId(ctx);
  const rows = await ctx.db
    .select()
    .from(sqlTools)
    .where(
      and(
        eq(sqlTools.orgId, orgId),
        query.database_id ? eq(sqlTools.databaseId, query.database_id) : undefined,
        query.cursor ? gt(sqlTools.id, query.cursor) : undefined,
      ),
    )
    .orderBy(asc(sqlTools.id))
    .limit(query.limit + 1);
  return toPage(rows, query.limit, (r) => r.id, view);
}

export async function getTool(ctx: ServiceCtx, id: string): Promise<ToolView> {
  assertCan(ctx, "tools:read");
  return view(await getToolRow(ctx, id));
}

export async function deleteTool(ctx: ServiceCtx, id: string): Promise<void> {
  assertCan(ctx, "tools:write");
  const row = await getToolRow(ctx, id);
  await ctx.db.delete(sqlTools).where(eq(sqlTools.id, row.id));
  await recordAudit(ctx, { orgId: row.orgId, action: "tool.deleted", targetType: "tool", targetId: row.id, metadata: { name: row.name } });
}

/**
 * Runs a tool: the parameters are validated against its schema (422 otherwise) and bound as real
 * query parameters. The template is judged again, since the database's allow-lists may have
 * narrowed since the tool was made. Agents call tools through this function.
 */
export async function executeTool(ctx: ServiceCtx, id: string, params: Record<string, unknown>): Promise<ToolResultView> {
  assertCan(ctx, "databases:query");
  const tool = await getToolRow(ctx, id);
  const bound = bindParameters(tool.parameters as unknown as ToolParameters, params);
  if ("errors" in bound) throw new Unprocessable(bound.errors, "The parameters do not fit the tool's schema");
  const { values } = bound;
  const database = await getDatabaseRow(ctx, tool.databaseId);
  const verdict = await checkSql(tool.sqlTemplate, guardPolicy(database));
  if (!verdict.allowed) throw new Conflict(`The tool's SQL no longer passes the guard: ${verdict.reasons.map((r) => r.message).join(" ")}`);
  return withDatabase(
    ctx,
    database,
    (sql) => runReadOnly(sql, tool.sqlTemplate, values, executionLimits(ctx, database), () => Date.now()),
    (error) =>
      isStatementError(error)
        ? new Unprocessable([{ path: "params", message: `The database refused the query: ${error.message}` }])
        : new BadGateway(`Could not reach the linked database: ${error instanceof Error ? error.message : String(error)}`),
  );
}
