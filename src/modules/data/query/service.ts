import { and, desc, eq, lt } from "drizzle-orm";
import { queryExamples, queryRuns } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { AppError, BadGateway, NotFound, Unprocessable } from "../../../lib/errors";
import { newId } from "../../../lib/ids";
import { type Page, toPage } from "../../../lib/pagination";
import { type MeteredChat, withMeteredChat } from "../../content/ai/metered-chat";
import { assertCan, requireOrgId } from "../../identity/auth/principal";
import type { CreditMeter } from "../../money/credits/meter";
import { isStatementError } from "../databases/connection";
import { type ExecutionResult, runReadOnly } from "../databases/execute";
import { visibleTables } from "../databases/introspect";
import { executionLimits, guardPolicy } from "../databases/policy";
import { getDatabaseRow, type LinkedDatabaseRow, withDatabase } from "../databases/service";
import { checkSql, type GuardReason } from "../sql-guard/check";
import { describeTables, relevantTables } from "./schema-context";
import type { ChatInput, ChatResultView, FeedbackInput, HistoryEntryView, HistoryInput } from "./schemas";
import { type ChatMessage, draftSql, estimateTokens, type SqlDraft, systemPrompt } from "./sql-writer";

export const QUERY_FEATURE = "query.chat";

export interface AskOptions {
  meter?: CreditMeter;
  source?: "text" | "voice";
}
/** Earlier turns of a conversation the model is shown. */
const CONVERSATION_TURNS = 6;
/** Confirmed question/SQL pairs the model is shown. */
const FEW_SHOT_EXAMPLES = 5;
/** The model writes SQL at most twice per question: once, and once more to repair a failure. */
const MAX_ROUNDS = 2;
const MAX_SQL_TOKENS = 1024;

type RunRow = typeof queryRuns.$inferSelect;

type Outcome =
  | { status: "succeeded"; draft: SqlDraft; result: ExecutionResult | null; repaired: boolean }
  | { status: "refused"; draft: SqlDraft; reasons: GuardReason[] }
  | { status: "failed"; draft: SqlDraft; error: string };

async function conversationTurns(ctx: ServiceCtx, orgId: string, databaseId: string, conversationId: string): Promise<RunRow[]> {
  const runs = await ctx.db
    .select()
    .from(queryRuns)
    .where(and(eq(queryRuns.orgId, orgId), eq(queryRuns.conversationId, conversationId)))
    .orderBy(desc(queryRuns.id))
    .limit(CONVERSATION_TURNS);
  if (runs.length === 0) throw new NotFound("conversation", conversationId);
  if (runs.some((run) => run.databaseId !== databaseId)) {
    throw new Unprocessable([{ path: "conversation_id", message: "This conversation is about another database" }]);
  }
  return runs.reverse();
}

/** The model's context: rules and the relevant schema, confirmed examples, the conversation so far, the question. */
async function buildMessages(ctx: ServiceCtx, row: LinkedDatabaseRow, prompt: string, turns: RunRow[]): Promise<ChatMessage[]> {
  const tables = visibleTables(row.schemaCache, row.allowedSchemas, row.allowedTables);
  const asked = [...turns.map((t) => t.prompt), prompt].join(" ");
  const examples = await ctx.db
    .select()
    .from(queryExamples)
    .where(and(eq(queryExamples.orgId, row.orgId), eq(queryExamples.databaseId, row.id)))
    .orderBy(desc(queryExamples.id))
    .limit(FEW_SHOT_EXAMPLES);
  const messages: ChatMessage[] = [{ role: "system", content: systemPrompt(describeTables(relevantTables(tables, asked))) }];
  for (const example of examples.reverse()) {
    messages.push({ role: "user", content: example.question }, { role: "assistant", content: example.sql });
  }
  for (const turn of turns) {
    messages.push({ role: "user", content: turn.prompt }, { role: "assistant", content: turn.sql ?? "(no SQL)" });
  }
  messages.push({ role: "user", content: prompt });
  return messages;
}

/**
 * Writes SQL, has the guard judge it, runs it read-only, and when Postgres refuses it gives the
 * model the error for one repair. The guard's refusal ends the question: nothing runs.
 */
async function writeAndRun(ctx: ServiceCtx, llm: MeteredChat, row: LinkedDatabaseRow, messages: ChatMessage[], execute: boolean): Promise<Outcome> {
  const policy = guardPolicy(row);
  let conversation = messages;
  let lastFailure: { draft: SqlDraft; error: string } | null = null;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const draft = await draftSql(llm, conversation);
    const verdict = await checkSql(draft.sql, policy);
    if (!verdict.allowed) return { status: "refused", draft, reasons: verdict.reasons };
    if (!execute) return { status: "succeeded", draft, result: null, repaired: false };
    try {
      const result = await withDatabase(ctx, row, (sql) => runReadOnly(sql, draft.sql, [], executionLimits(ctx, row), () => Date.now()), databaseProblem);
      return { status: "succeeded", draft, result, repaired: round > 0 };
    } catch (error) {
      if (!isStatementError(error)) throw error;
      lastFailure = { draft, error: error.message };
      conversation = [
        ...conversation,
        { role: "assistant", content: draft.sql },
        { role: "user", content: `Running that SQL failed with: ${error.message}\nWrite a corrected query.` },
      ];
    }
  }
  if (!lastFailure) throw new Error("no round ran");
  return { status: "failed", ...lastFailure };
}

/** Statement errors go back to the model; not reaching the database is a 502 for the caller. */
function databaseProblem(error: unknown): unknown {
  if (isStatementError(error)) return error;
  return new BadGateway(`Could not reach the linked database: ${error instanceof Error ? error.message : String(error)}`);
}

/**
 * Answers a question about a linked database: the model writes SQL from the relevant schema,
 * confirmed examples and the conversation; the guard judges it; it runs read-only. Credits are
 * held before any model call (402 when short) and charged once for every round. Every question is
 * recorded in the history, refused and failed ones too. Callable without HTTP (voice agents):
 * `options.meter` adds the model's work to a hold the caller opened, `options.source` records how
 * the question was asked.
 */
export async function askDatabase(ctx: ServiceCtx, input: ChatInput, options: AskOptions = {}): Promise<ChatResultView> {
  assertCan(ctx, "databases:query");
  const orgId = requireOrgId(ctx);
  const row = await getDatabaseRow(ctx, input.database_id).catch((error: unknown) => {
    if (error instanceof NotFound) throw new Unprocessable([{ path: "database_id", message: `No linked database ${input.database_id}` }]);
    throw error;
  });
  const turns = input.conversation_id ? await conversationTurns(ctx, orgId, row.id, input.conversation_id) : [];
  const conversationId = input.conversation_id ?? newId("qcv");
  const messages = await buildMessages(ctx, row, input.prompt, turns);
  const model = input.model ?? ctx.config.linkedDatabases.sqlModel;
  const estimate = { inputTokens: estimateTokens(messages) * MAX_ROUNDS, outputTokens: MAX_SQL_TOKENS * MAX_ROUNDS };

  const metered = await withMeteredChat(ctx, { feature: QUERY_FEATURE, model, estimate, meter: options.meter }, (llm) =>
    writeAndRun(ctx, llm, row, messages, input.execute ?? true),
  );
  const outcome = metered.value;
  const result = outcome.status === "succeeded" ? outcome.result : null;
  const error = outcome.status === "failed" ? outcome.error : outcome.status === "refused" ? outcome.reasons.map((r) => r.message).join(" ") : null;
  const [run] = await ctx.db
    .insert(queryRuns)
    .values({
      id: newId("qrn"),
      orgId,
      databaseId: row.id,
      conversationId,
      prompt: input.prompt,
      sql: outcome.draft.sql,
      explanation: outcome.draft.explanation,
      status: outcome.status,
      error,
      rowCount: result?.row_count ?? null,
      durationMs: result?.duration_ms ?? null,
      promptTokens: metered.usage.inputTokens,
      completionTokens: metered.usage.outputTokens,
      credits: metered.credits,
      source: options.source ?? "text",
      userId: ctx.actor?.userId ?? null,
      apiKeyId: ctx.actor?.apiKeyId ?? null,
      createdAt: ctx.now(),
    })
    .returning();
  if (!run) throw new Error("query run insert returned no row");
  const usage = { prompt_tokens: metered.usage.inputTokens, completion_tokens: metered.usage.outputTokens, credits: metered.credits };
  const context = { query_id: run.id, conversation_id: conversationId, sql: outcome.draft.sql, usage };

  if (outcome.status === "refused") {
    throw new AppError(
      422,
      "https://billx.dev/problems/sql-refused",
      "SQL refused",
      "The model wrote SQL the guard does not allow, so nothing ran",
      outcome.reasons.map((reason) => ({ path: "sql", message: reason.message })),
      undefined,
      { ...context, reasons: outcome.reasons },
    );
  }
  if (outcome.status === "failed") {
    throw new AppError(
      422,
      "https://billx.dev/problems/sql-failed",
      "SQL failed",
      `The database refused the SQL, also after one repair: ${outcome.error}`,
      undefined,
      undefined,
      { ...context, error: outcome.error },
    );
  }
  return {
    id: run.id,
    conversation_id: conversationId,
    sql: outcome.draft.sql,
    explanation: outcome.draft.explanation,
    executed: result !== null,
    repaired: outcome.repaired,
    columns: result?.columns ?? [],
    rows: result?.rows ?? [],
    row_count: result?.row_count ?? 0,
    truncated: result?.truncated ?? false,
    duration_ms: result?.duration_ms ?? 0,
    usage,
  };
}

function historyView(run: RunRow): HistoryEntryView {
  return {
    id: run.id,
    database_id: run.databaseId,
    conversation_id: run.conversationId,
    prompt: run.prompt,
    source: run.source,
    sql: run.sql,
    status: run.status,
    error: run.error,
    row_count: run.rowCount,
    duration_ms: run.durationMs,
    usage: { prompt_tokens: run.promptTokens, completion_tokens: run.completionTokens, credits: run.credits },
    user_id: run.userId,
    api_key_id: run.apiKeyId,
    feedback: run.feedbackCorrect === null ? null : { correct: run.feedbackCorrect, corrected_sql: run.correctedSql },
    created_at: run.createdAt.toISOString(),
  };
}

/** The organisation's questions, newest first. */
export async function queryHistory(ctx: ServiceCtx, query: HistoryInput): Promise<Page<HistoryEntryView>> {
  assertCan(ctx, "databases:read");
  const orgId = requireOrgId(ctx);
  const rows = await ctx.db
    .select()
    .from(queryRuns)
    .where(
      and(
        eq(queryRuns.orgId, orgId),
        query.database_id ? eq(queryRuns.databaseId, query.database_id) : undefined,
        query.conversation_id ? eq(queryRuns.conversationId, query.conversation_id) : undefined,
        query.cursor ? lt(queryRuns.id, query.cursor) : undefined,
      ),
    )
    .orderBy(desc(queryRuns.id))
    .limit(query.limit + 1);
  return toPage(rows, query.limit, (r) => r.id, historyView);
}

/**
 * Feedback on a question. A correct one, or the corrected SQL of a wrong one (which must pass the
 * guard), becomes a few-shot example for its database; one example per question, the latest
 * feedback wins. Marking a question wrong without a correction removes its example.
 */
export async function giveFeedback(ctx: ServiceCtx, runId: string, input: FeedbackInput): Promise<HistoryEntryView> {
  assertCan(ctx, "databases:query");
  const orgId = requireOrgId(ctx);
  const [run] = await ctx.db
    .select()
    .from(queryRuns)
    .where(and(eq(queryRuns.id, runId), eq(queryRuns.orgId, orgId)));
  if (!run) throw new NotFound("query", runId);
  const exampleSql = input.correct ? run.sql : (input.corrected_sql ?? null);
  if (input.correct && (run.status !== "succeeded" || !run.sql)) {
    throw new Unprocessable([
      { path: "correct", message: `This query ${run.status === "refused" ? "was refused" : "did not run"}; send corrected_sql instead` },
    ]);
  }
  if (input.corrected_sql) {
    const row = await getDatabaseRow(ctx, run.databaseId);
    const verdict = await checkSql(input.corrected_sql, guardPolicy(row));
    if (!verdict.allowed) throw new Unprocessable(verdict.reasons.map((r) => ({ path: "corrected_sql", message: r.message })));
  }
  const [updated] = await ctx.db
    .update(queryRuns)
    .set({ feedbackCorrect: input.correct, correctedSql: input.corrected_sql ?? null })
    .where(eq(queryRuns.id, run.id))
    .returning();
  if (!updated) throw new NotFound("query", runId);
  if (exampleSql) {
    await ctx.db
      .insert(queryExamples)
      .values({ id: newId("qex"), orgId, databaseId: run.databaseId, question: run.prompt, sql: exampleSql, sourceRunId: run.id, createdAt: ctx.now() })
      .onConflictDoUpdate({ target: queryExamples.sourceRunId, set: { sql: exampleSql } });
  } else {
    await ctx.db.delete(queryExamples).where(eq(queryExamples.sourceRunId, run.id));
  }
  return historyView(updated);
}
