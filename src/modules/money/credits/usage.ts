import { and, desc, eq, gte, lt, sql } from "drizzle-orm";
import { apiUsage, usageEvents } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { newId } from "../../../lib/ids";
import { getBalance } from "./ledger";

export interface QuotaUsageView {
  period: string;
  period_start: string;
  resets_at: string;
  remaining_credits: number;
  used_credits: number;
  by_feature: { feature: string; credits: number; events: number }[];
  by_model: {
    provider: string;
    model: string;
    credits: number;
    events: number;
    input_tokens: number;
    output_tokens: number;
    audio_seconds: number;
    characters: number;
  }[];
}

/** The UTC month `YYYY-MM` as [first instant, first instant of the next month). */
export function periodBounds(period: string): { start: Date; end: Date } {
  const [year, month] = period.split("-").map(Number) as [number, number];
  return { start: new Date(Date.UTC(year, month - 1, 1)), end: new Date(Date.UTC(year, month, 1)) };
}

/**
 * What an organisation's settled work consumed in one calendar month (UTC), by feature and by
 * model, with the credits it has left. Every row of `by_feature` and of `by_model` sums to
 * `used_credits`; the biggest spenders come first. Allowances renew with the period, so `resets_at` is the first of next month.
 */
export async function getQuotaUsage(ctx: ServiceCtx, orgId: string, period: string): Promise<QuotaUsageView> {
  const { start, end } = periodBounds(period);
  const inPeriod = and(eq(usageEvents.orgId, orgId), gte(usageEvents.createdAt, start), lt(usageEvents.createdAt, end));
  const credits = sql<string>`coalesce(sum(${usageEvents.credits}), 0)`;
  const events = sql<string>`count(*)`;
  const [byFeature, byModel, remaining] = await Promise.all([
    ctx.db
      .select({ feature: usageEvents.feature, credits, events })
      .from(usageEvents)
      .where(inPeriod)
      .groupBy(usageEvents.feature)
      .orderBy(desc(credits), usageEvents.feature),
    ctx.db
      .select({
        provider: usageEvents.provider,
        model: usageEvents.model,
        credits,
        events,
        inputTokens: sql<string>`coalesce(sum(${usageEvents.inputTokens}), 0)`,
        outputTokens: sql<string>`coalesce(sum(${usageEvents.outputTokens}), 0)`,
        audioSeconds: sql<string>`coalesce(sum(${usageEvents.audioSeconds}), 0)`,
        characters: sql<string>`coalesce(sum(${usageEvents.characters}), 0)`,
      })
      .from(usageEvents)
      .where(inPeriod)
      .groupBy(usageEvents.provider, usageEvents.model)
      .orderBy(desc(credits), usageEvents.provider, usageEvents.model),
    getBalance(ctx, orgId),
  ]);
  const features = byFeature.map((row) => ({ feature: row.feature, credits: Number(row.credits), events: Number(row.events) }));
  return {
    period,
    period_start: start.toISOString(),
    resets_at: end.toISOString(),
    remaining_credits: remaining,
    used_credits: features.reduce((sum, row) => sum + row.credits, 0),
    by_feature: features,
    by_model: byModel.map((row) => ({
      provider: row.provider,
      model: row.model,
      credits: Number(row.credits),
      events: Number(row.events),
      input_tokens: Number(row.inputTokens),
      output_tokens: Number(row.outputTokens),
      audio_seconds: Number(row.audioSeconds),
      characters: Number(row.characters),
    })),
  };
}

export interface ApiUsageInput {
  orgId: string;
  apiKeyId: string | null;
  userId: string | null;
  route: string;
  method: string;
  status: number;
  durationMs: number;
  credits: number;
}

/** One row per call of a metered route (see `meterApiUsage`). */
export async function recordApiUsage(ctx: ServiceCtx, input: ApiUsageInput): Promise<void> {
  await ctx.db.insert(apiUsage).values({ id: newId("apu"), ...input });
}

// Credits a request's work charged, keyed by its service context: services note them, the
// metering middleware reads them once the response is ready, and neither sees the other.
const chargedByRequest = new WeakMap<ServiceCtx, number>();

/** Adds `credits` to what the current request has charged (shown in its `api_usage` row). */
export function noteCreditsCharged(ctx: ServiceCtx, credits: number): void {
  chargedByRequest.set(ctx, (chargedByRequest.get(ctx) ?? 0) + credits);
}

export function creditsChargedBy(ctx: ServiceCtx): number {
  return chargedByRequest.get(ctx) ?? 0;
}
