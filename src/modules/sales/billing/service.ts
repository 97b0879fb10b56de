/**
 * What the sales chatbot's model calls cost an organisation, read from `chatbot_usage_events`
 * (written by record.ts): totals, a day-by-day series, per provider and model, the latest calls.
 * Every figure comes from the same rows, so the totals are the sum of the events.
 */
import { and, desc, eq, gte, type SQL, sql } from "drizzle-orm";
import { chatbotUsageEvents } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { type Page, toPage } from "../../../lib/pagination";
import { assertCan, requireOrgId } from "../../identity/auth/principal";
import type { PriceSource } from "../../money/credits/prices";

export interface UsageEventView {
  id: string;
  at: string;
  conversation_id: string | null;
  contact_id: string | null;
  agent: string;
  provider: string;
  model: string;
  input_tokens: number;
  output_tokens: number;
  credits: number;
  cost_usd: string;
  price_source: PriceSource;
}

export interface UsageTotals {
  calls: number;
  input_tokens: number;
  output_tokens: number;
  credits: number;
  cost_usd: string;
}

export interface BillingSummary {
  days: number;
  /** The first instant counted: midnight UTC, `days - 1` days before today. */
  since: string;
  contact_id: string | null;
  totals: UsageTotals;
  daily: (UsageTotals & { date: string })[];
  by_model: (UsageTotals & { provider: string; model: string })[];
  recent: UsageEventView[];
}

const DAY_MS = 86_400_000;

const NEWEST_FIRST = [desc(chatbotUsageEvents.at), desc(chatbotUsageEvents.id)];

/** Midnight UTC `days - 1` days before `now`'s day: a range of `days` whole UTC days ending today. */
function rangeStart(now: Date, days: number): Date {
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  return new Date(today - (days - 1) * DAY_MS);
}

function scope(orgId: string, since: Date, contactId: string | undefined): SQL | undefined {
  return and(
    eq(chatbotUsageEvents.orgId, orgId),
    gte(chatbotUsageEvents.at, since),
    contactId === undefined ? undefined : eq(chatbotUsageEvents.contactId, contactId),
  );
}

// Sums come back from Postgres as text (bigint, numeric); cost stays text with its six decimals.
const totalsColumns = {
  calls: sql<string>`count(*)`,
  input_tokens: sql<string>`coalesce(sum(${chatbotUsageEvents.inputTokens}), 0)`,
  output_tokens: sql<string>`coalesce(sum(${chatbotUsageEvents.outputTokens}), 0)`,
  credits: sql<string>`coalesce(sum(${chatbotUsageEvents.credits}), 0)`,
  cost_usd: sql<string>`coalesce(sum(${chatbotUsageEvents.costUsd}), 0)::numeric(20, 6)::text`,
};

type TotalsRow = { [K in keyof typeof totalsColumns]: string | number };

function totalsView(row: TotalsRow | undefined): UsageTotals {
  return {
    calls: Number(row?.calls ?? 0),
    input_tokens: Number(row?.input_tokens ?? 0),
    output_tokens: Number(row?.output_tokens ?? 0),
    credits: Number(row?.credits ?? 0),
    cost_usd: String(row?.cost_usd ?? "0.000000"),
  };
}

function eventView(row: typeof chatbotUsageEvents.$inferSelect): UsageEventView {
  return {
    id: row.id,
    at: row.at.toISOString(),
    conversation_id: row.conversationId,
    contact_id: row.contactId,
    agent: row.agent,
    provider: row.provider,
    model: row.model,
    input_tokens: row.inputTokens,
    output_tokens: row.outputTokens,
    credits: row.credits,
    cost_usd: row.costUsd,
    price_source: row.priceSource,
  };
}

/** The active organisation's chatbot spend over the last `days` UTC days, optionally for one contact. */
export async function billingSummary(ctx: ServiceCtx, query: { days: number; recent_limit: number; contact_id?: string }): Promise<BillingSummary> {
  assertCan(ctx, "credits:read");
  const orgId = requireOrgId(ctx);
  const since = rangeStart(ctx.now(), query.days);
  const where = scope(orgId, since, query.contact_id);
  const day = sql<string>`to_char(${chatbotUsageEvents.at} AT TIME ZONE 'UTC', 'YYYY-MM-DD')`;
  const [totals, daily, byModel, recent] = await Promise.all([
    ctx.db.select(totalsColumns).from(chatbotUsageEvents).where(where),
    ctx.db
      .select({ date: day, ...totalsColumns })
      .from(chatbotUsageEvents)
      .where(where)
      .groupBy(day),
    ctx.db
      .select({ provider: chatbotUsageEvents.provider, model: chatbotUsageEvents.model, ...totalsColumns })
      .from(chatbotUsageEvents)
      .where(where)
      .groupBy(chatbotUsageEvents.provider, chatbotUsageEvents.model)
      .orderBy(sql`sum(${chatbotUsageEvents.costUsd}) DESC`, chatbotUsageEvents.provider, chatbotUsageEvents.model),
    ctx.db
      .select()
      .from(chatbotUsageEvents)
      .where(where)
      .orderBy(...NEWEST_FIRST)
      .limit(query.recent_limit),
  ]);
  const byDate = new Map(daily.map((row) => [row.date, row]));
  const series = Array.from({ length: query.days }, (_, i) => {
    const date = new Date(since.getTime() + i * DAY_MS).toISOString().slice(0, 10);
    return { date, ...totalsView(byDate.get(date)) };
  });
  return {
    days: query.days,
    since: since.toISOString(),
    contact_id: query.contact_id ?? null,
    totals: totalsView(totals[0]),
    daily: series,
    by_model: byModel.map(({ provider, model, ...row }) => ({ provider, model, ...totalsView(row) })),
    recent: recent.map(eventView),
  };
}

/** The active organisation's chatbot model calls of the last `days` UTC days, newest first, in pages. */
export async function listUsageEvents(
  ctx: ServiceCtx,
  query: { days: number; limit: number; cursor?: string; contact_id?: string },
): Promise<Page<UsageEventView>> {
  assertCan(ctx, "credits:read");
  const orgId = requireOrgId(ctx);
  // Newest first by when the call happened (ids only break ties): the cursor is the last id
  // shown, and the next page starts below that row's (at, id).
  const after = query.cursor
    ? sql`(${chatbotUsageEvents.at}, ${chatbotUsageEvents.id}) < (SELECT c.at, c.id FROM chatbot_usage_events c WHERE c.org_id = ${orgId} AND c.id = ${query.cursor})`
    : undefined;
  const rows = await ctx.db
    .select()
    .from(chatbotUsageEvents)
    .where(and(scope(orgId, rangeStart(ctx.now(), query.days), query.contact_id), after))
    .orderBy(...NEWEST_FIRST)
    .limit(query.limit + 1);
  return toPage(rows, query.limit, (row) => row.id, eventView);
}
