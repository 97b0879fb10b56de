import type { ServiceCtx } from "../../../lib/context";
import { AppError } from "../../../lib/errors";
import { withMeteredChat } from "../../content/ai/metered-chat";
import { assertCan, requireOrgId } from "../../identity/auth/principal";
import type { CreditMeter } from "../../money/credits/meter";
import { type ChatMessage, draftSql, estimateTokens, systemPrompt } from "../query/sql-writer";
import { describeAnalyticsSchema } from "./catalog";
import { AnalyticsStatementError, runAsAnalyst } from "./execute";
import { type AnalyticsReason, judgeOwnDataSql } from "./judge";
import type { AnalyticsExecuteInput, AnalyticsPromptInput, AnalyticsRowsView, AnalyticsSqlAnswerView } from "./schemas";

export const ANALYTICS_FEATURE = "ai.sql";
export const ANALYTICS_PERMISSION = "analytics:query";
const MAX_SQL_TOKENS = 1024;

const OWN_DATA_RULES = [
  "Every table holds only the asking organisation's rows: never filter on org_id.",
  "Money columns are integer minor units (cents) of the row's currency; quantities are numeric with 3 decimals. Timestamps are UTC.",
  "Name the columns you need; SELECT * fails on tables with withheld columns. Sales are bills with status IN ('issued','partially_paid','paid','refunded').",
];

function refused(sql: string, reasons: AnalyticsReason[], detail: string, extensions: Record<string, unknown> = {}): AppError {
  return new AppError(
    422,
    "https://billx.dev/problems/sql-refused",
    "SQL refused",
    detail,
    reasons.map((reason) => ({ path: "sql", message: reason.message })),
    undefined,
    { sql, reasons, ...extensions },
  );
}

/**
 * Writes SQL over the organisation's own Billx data (the curated retail and metering tables) from
 * a question. Credits are held before the model is called (402 when short) and charged once.
 * The SQL must pass the guard over the curated tables, else 422 `sql-refused` (still charged: the
 * model did the work). Nothing runs here: POST /v1/ai/sql/execute does that.
 */
export async function writeAnalyticsSql(ctx: ServiceCtx, input: AnalyticsPromptInput, options: { meter?: CreditMeter } = {}): Promise<AnalyticsSqlAnswerView> {
  assertCan(ctx, ANALYTICS_PERMISSION);
  requireOrgId(ctx);
  const messages: ChatMessage[] = [
    { role: "system", content: systemPrompt(describeAnalyticsSchema(), OWN_DATA_RULES) },
    { role: "user", content: input.prompt },
  ];
  const model = input.model ?? ctx.config.linkedDatabases.sqlModel;
  const estimate = { inputTokens: estimateTokens(messages), outputTokens: MAX_SQL_TOKENS };
  const metered = await withMeteredChat(ctx, { feature: ANALYTICS_FEATURE, model, estimate, meter: options.meter }, async (llm) => {
    const draft = await draftSql(llm, messages);
    return { draft, verdict: await judgeOwnDataSql(draft.sql) };
  });
  const { draft, verdict } = metered.value;
  const usage = { prompt_tokens: metered.usage.inputTokens, completion_tokens: metered.usage.outputTokens, credits: metered.credits };
  if (!verdict.allowed) throw refused(draft.sql, verdict.reasons, "The model wrote SQL the guard does not allow", { usage });
  return { sql: draft.sql, explanation: draft.explanation, usage };
}

/**
 * Runs one SELECT over the organisation's own Billx data. The guard judges it first (422
 * `sql-refused` with its reasons); it then runs read-only as the restricted analyst role, whose
 * row-level security shows only this organisation's rows, so SQL without any org filter is still
 * scoped. Postgres refusing the SQL (a column withheld, a syntax error, the timeout) is 422
 * `sql-failed` with Postgres's message.
 */
export async function executeAnalyticsSql(ctx: ServiceCtx, input: AnalyticsExecuteInput): Promise<AnalyticsRowsView> {
  assertCan(ctx, ANALYTICS_PERMISSION);
  const orgId = requireOrgId(ctx);
  const verdict = await judgeOwnDataSql(input.sql);
  if (!verdict.allowed) throw refused(input.sql, verdict.reasons, "The guard does not allow this SQL, so nothing ran");
  const { timeoutMs, maxRows, maxBytes } = ctx.config.linkedDatabases;
  try {
    return await runAsAnalyst(ctx, orgId, input.sql, { timeoutMs, maxRows, maxBytes });
  } catch (error) {
    if (!(error instanceof AnalyticsStatementError)) throw error;
    // 42501: a withheld column, usually through SELECT *.
    const hint = error.code === "42501" ? " (some columns, such as idempotency keys, are not available: name the columns you need)" : "";
    throw new AppError(
      422,
      "https://billx.dev/problems/sql-failed",
      "SQL failed",
      `The database refused the SQL: ${error.message}${hint}`,
      [{ path: "sql", message: error.message }],
      undefined,
      { sql: input.sql, sqlstate: error.code },
    );
  }
}
