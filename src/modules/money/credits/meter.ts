/**
 * One credit hold for paid work that calls several providers in a row (speech to text, a model,
 * text to speech): the estimate is held before the first call, each call adds what it consumed as
 * a line priced by the price map, and the hold is settled once with every line (one usage event
 * each) — or released when nothing was consumed. Built on reservations.ts.
 */
import type { ServiceCtx } from "../../../lib/context";
import { type Consumption, creditsFor, lookupPrice } from "./prices";
import { releaseReservation, reserveCredits, type Settlement, settleReservation, type UsageLine } from "./reservations";
import { noteCreditsCharged } from "./usage";

export interface CreditMeter {
  /** Prices what one provider call consumed and adds it to the bill; answers the credits it added. */
  add(provider: string, model: string, used: Consumption): number;
  /** Credits consumed so far. */
  readonly credits: number;
  readonly lines: readonly UsageLine[];
}

export interface Metered<T> {
  value: T;
  credits: number;
  balance: number;
}

class LineMeter implements CreditMeter {
  readonly lines: UsageLine[] = [];

  add(provider: string, model: string, used: Consumption): number {
    const { price, source } = lookupPrice(provider, model);
    // Calls of one model share a line, priced on their sum: rounding up happens once per model.
    const line = this.lines.find((l) => l.provider === provider && l.model === model);
    if (!line) {
      const credits = creditsFor(price, used);
      this.lines.push({ provider, model, priceSource: source, ...used, credits });
      return credits;
    }
    const before = line.credits;
    line.inputTokens = (line.inputTokens ?? 0) + (used.inputTokens ?? 0);
    line.outputTokens = (line.outputTokens ?? 0) + (used.outputTokens ?? 0);
    line.audioSeconds = (line.audioSeconds ?? 0) + (used.audioSeconds ?? 0);
    line.characters = (line.characters ?? 0) + (used.characters ?? 0);
    line.credits = creditsFor(price, line);
    return line.credits - before;
  }

  get credits(): number {
    return this.lines.reduce((sum, line) => sum + line.credits, 0);
  }
}

/**
 * Holds `estimate` credits (402, and `work` never starts, when they are short), runs `work` with a
 * meter, then settles once with what the meter recorded — also when `work` failed after consuming
 * something (the provider did the work); a failure before any consumption releases the hold.
 * `work`'s error is rethrown unchanged.
 */
export async function withCreditMeter<T>(
  ctx: ServiceCtx,
  options: { orgId: string; feature: string; estimate: number },
  work: (meter: CreditMeter) => Promise<T>,
): Promise<Metered<T>> {
  const reservation = await reserveCredits(ctx, { orgId: options.orgId, amount: options.estimate, feature: options.feature });
  const meter = new LineMeter();
  const settle = async (): Promise<Settlement> => {
    const settlement = await settleReservation(ctx, reservation.id, meter.credits, meter.lines);
    noteCreditsCharged(ctx, settlement.charged);
    return settlement;
  };
  let value: T;
  try {
    value = await work(meter);
  } catch (error) {
    if (meter.lines.length > 0) {
      await settle();
    } else {
      await releaseReservation(ctx, reservation.id).catch((releaseError: unknown) =>
        // The hold expires and the reclaim job gives it back; the caller still hears the real cause.
        ctx.log.error("could not release a credit reservation", { reservation_id: reservation.id, error: releaseError }),
      );
    }
    throw error;
  }
  const settlement = await settle();
  return { value, credits: settlement.charged, balance: settlement.balance };
}
