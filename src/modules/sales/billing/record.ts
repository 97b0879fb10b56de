/**
 * Charging the sales chatbot's model calls. A call has already happened when it is recorded, so
 * it is charged whatever the balance: in full when the balance covers it, else what is left (the
 * turn's pre-check, `ensureChatCredits`, is where a short balance refuses work with a 402).
 *
 * One statement per call: the conditional debit of the balance (`debitedCte`), its `usage` ledger
 * entry, the platform-wide `usage_events` row and the `chatbot_usage_events` row the billing
 * routes read. So the four always agree, and a call costs one round trip.
 */
import { eq, sql } from "drizzle-orm";
import { creditBalances, type SalesAgent } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { PaymentRequired } from "../../../lib/errors";
import { newId } from "../../../lib/ids";
import type { LlmProviderName } from "../../../providers/llm";
import { debitedCte, ensureBalanceRow, getBalance, queryRows } from "../../money/credits/ledger";
import { costUsd, creditsFor, lookupPrice, type PriceSource } from "../../money/credits/prices";
import { noteCreditsCharged } from "../../money/credits/usage";

export interface ModelCall {
  orgId: string;
  conversationId: string | null;
  contactId: string | null;
  agent: SalesAgent;
  provider: LlmProviderName;
  model: string;
  usage: { inputTokens: number; outputTokens: number };
}

export interface RecordedCall {
  /** Credits charged: the price, or less when the balance ran out. */
  credits: number;
  /** The price-map cost in US dollars (six decimals), before rounding to whole credits. */
  cost_usd: string;
  price_source: PriceSource;
  /** The id of the `chatbot_usage_events` row. */
  event_id: string;
}

// A miss means the balance row is missing or too low; a few reads and retries settle a race.
const ATTEMPTS = 4;

/** Prices one model call, charges it and stores its usage row; returns what it cost. */
export async function recordModelCall(ctx: ServiceCtx, call: ModelCall): Promise<RecordedCall> {
  const used = { inputTokens: wholeTokens(call.usage.inputTokens), outputTokens: wholeTokens(call.usage.outputTokens) };
  const { price, source } = lookupPrice(call.provider, call.model);
  const price_credits = creditsFor(price, used);
  const cost_usd = costUsd(price, used);
  const eventId = newId("cbu");
  let amount = price_credits;
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    const rows = await queryRows<{ id: string }>(ctx.db, chargeStatement(ctx, call, { eventId, amount, used, cost_usd, source }));
    if (rows.length > 0) {
      if (amount < price_credits) {
        ctx.log.warn("chatbot call cost more than the balance held", { org_id: call.orgId, price: price_credits, charged: amount, event_id: eventId });
      }
      noteCreditsCharged(ctx, amount);
      return { credits: amount, cost_usd, price_source: source, event_id: eventId };
    }
    const [current] = await ctx.db.select({ balance: creditBalances.balance }).from(creditBalances).where(eq(creditBalances.orgId, call.orgId));
    if (!current) await ensureBalanceRow(ctx.db, call.orgId, ctx.now());
    else amount = Math.min(price_credits, current.balance);
  }
  // Only a balance moving under us on every try gets here; the call is logged, not lost silently.
  ctx.log.error("could not record a chatbot model call", { org_id: call.orgId, provider: call.provider, model: call.model, credits: price_credits });
  throw new Error(`could not charge chatbot usage event ${eventId}`);
}

function chargeStatement(
  ctx: ServiceCtx,
  call: ModelCall,
  part: { eventId: string; amount: number; used: { inputTokens: number; outputTokens: number }; cost_usd: string; source: PriceSource },
) {
  const feature = `chatbot.${call.agent}`;
  const at = ctx.now().toISOString();
  return sql`
    WITH ${debitedCte(call.orgId, part.amount)},
    entry AS (
      INSERT INTO credit_ledger (id, org_id, kind, amount, balance_after, reference_type, reference_id, note, actor_user_id)
      SELECT ${newId("cle")}, ${call.orgId}, 'usage', ${-part.amount}, balance, 'chatbot_usage', ${part.eventId}, ${`${feature} ${call.provider}/${call.model}`}, ${ctx.actor?.userId ?? null}
      FROM debited
    ),
    platform_usage AS (
      INSERT INTO usage_events (id, org_id, feature, provider, model, input_tokens, output_tokens, credits, price_source, created_at)
      SELECT ${newId("use")}, ${call.orgId}, ${feature}, ${call.provider}, ${call.model}, ${part.used.inputTokens}, ${part.used.outputTokens}, ${part.amount}, ${part.source}, ${at}::timestamptz
      FROM debited
    )
    INSERT INTO chatbot_usage_events (id, org_id, conversation_id, contact_id, agent, provider, model, input_tokens, output_tokens, credits, cost_usd, price_source, at)
    SELECT ${part.eventId}, ${call.orgId}, ${call.conversationId}, ${call.contactId}, ${call.agent}, ${call.provider}, ${call.model},
      ${part.used.inputTokens}, ${part.used.outputTokens}, ${part.amount}, ${part.cost_usd}::numeric, ${part.source}, ${at}::timestamptz
    FROM debited
    RETURNING id`;
}

/** Token counts from a provider, as whole non-negative numbers (a broken count never refunds). */
function wholeTokens(value: number): number {
  return Number.isFinite(value) && value > 0 ? Math.round(value) : 0;
}

/**
 * The pre-check of a chat turn: 402 (with the balance and what is needed) when the organisation
 * has fewer than `needed` credits, so no model is called that nobody can pay for.
 */
export async function ensureChatCredits(ctx: ServiceCtx, orgId: string, needed = 1): Promise<number> {
  const balance = await getBalance(ctx, orgId);
  if (balance < needed) throw new PaymentRequired(balance, needed);
  return balance;
}
