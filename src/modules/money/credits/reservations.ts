/**
 * Reserve -> settle for paid work whose cost is known only afterwards (an LLM call, a phone
 * call). Reserving takes the estimate out of the balance at once (a `reservation` entry), so
 * concurrent work cannot spend the same credits twice; settling gives the hold back (`release`)
 * and charges the actual cost (`usage`); a failure releases the hold. Holds that nobody settles
 * (a crashed worker) expire and are reclaimed by the cron job `credits.reclaim-expired`.
 *
 * Lock order, everywhere: the reservation row, then the organisation's balance row.
 */
import { and, eq, lt, sql } from "drizzle-orm";
import { type Database, withTransaction } from "../../../db/client";
import { creditBalances, creditLedger, creditReservations, type ReservationStatus, usageEvents } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { Conflict, NotFound, Unprocessable } from "../../../lib/errors";
import { newId } from "../../../lib/ids";
import { debitedCte, queryRows, runDebit } from "./ledger";
import type { PriceSource } from "./prices";

/** How long a hold lasts when the caller does not say: longer than any provider call we make. */
export const DEFAULT_RESERVATION_TTL_SECONDS = 600;

export interface ReserveInput {
  orgId: string;
  amount: number;
  /** What the credits are for, e.g. `ai.completions`; shown in usage reports. */
  feature: string;
  ttlSeconds?: number;
}

export interface Reservation {
  id: string;
  orgId: string;
  feature: string;
  amount: number;
  status: ReservationStatus;
  expiresAt: Date;
  /** The balance right after the hold was taken. */
  balance: number;
}

/**
 * Holds `amount` credits for work about to start, or throws `PaymentRequired` (402, with the
 * balance and what was needed) so the work never starts. One statement: the conditional debit
 * (see `debitedCte` for the race it closes), the reservation row and its ledger entry.
 */
export async function reserveCredits(ctx: ServiceCtx, input: ReserveInput): Promise<Reservation> {
  if (!Number.isSafeInteger(input.amount) || input.amount < 0) throw new Unprocessable([{ path: "amount", message: "must be a whole number >= 0" }]);
  const id = newId("crs");
  const expiresAt = new Date(ctx.now().getTime() + (input.ttlSeconds ?? DEFAULT_RESERVATION_TTL_SECONDS) * 1000);
  const row = await runDebit<{ balance_after: number }>(
    ctx,
    input.orgId,
    input.amount,
    () => sql`
      WITH ${debitedCte(input.orgId, input.amount)},
      held AS (
        INSERT INTO credit_reservations (id, org_id, feature, amount, status, expires_at)
        SELECT ${id}, ${input.orgId}, ${input.feature}, ${input.amount}, 'held', ${expiresAt.toISOString()}::timestamptz FROM debited
      )
      INSERT INTO credit_ledger (id, org_id, kind, amount, balance_after, reference_type, reference_id, note)
      SELECT ${newId("cle")}, ${input.orgId}, 'reservation', ${-input.amount}, balance, 'reservation', ${id}, ${input.feature}
      FROM debited
      RETURNING balance_after`,
  );
  return { id, orgId: input.orgId, feature: input.feature, amount: input.amount, status: "held", expiresAt, balance: Number(row.balance_after) };
}

/** What the work consumed, recorded as a usage event when it is settled. */
export interface UsageDetails {
  provider: string;
  model: string;
  priceSource: PriceSource;
  inputTokens?: number;
  outputTokens?: number;
  audioSeconds?: number;
  characters?: number;
}

/** One provider's part of work settled at once with others (one line per model used). */
export interface UsageLine extends UsageDetails {
  /** Credits this part cost. */
  credits: number;
}

export interface Settlement {
  reservationId: string;
  /** Credits charged: the actual cost, or less when the balance could not cover an overrun. */
  charged: number;
  balance: number;
  /** False when the reservation had already been settled: nothing changed. */
  created: boolean;
}

/**
 * Ends a hold with the actual cost: the hold goes back (`release`) and `actualCredits` is charged
 * (`usage`), with a usage event when `usage` is given, in one transaction. When the work cost
 * more than was held, what the balance can cover is charged and the shortfall is logged.
 * Settling twice returns the first settlement. A hold the reclaim job expired meanwhile is still
 * charged (from the balance) because the work did happen; a released one is a 409.
 * `usage` is one usage event carrying the whole charge, or several lines (one per provider and
 * model of a pipeline), each its own event; what an overrun left uncharged comes off the last lines.
 */
export async function settleReservation(
  ctx: ServiceCtx,
  reservationId: string,
  actualCredits: number,
  usage?: UsageDetails | UsageLine[],
): Promise<Settlement> {
  if (!Number.isSafeInteger(actualCredits) || actualCredits < 0) {
    throw new Unprocessable([{ path: "actualCredits", message: "must be a whole number >= 0" }]);
  }
  return withTransaction(ctx, async (tx) => {
    const now = ctx.now();
    // The status condition decides a race with a second settle, a release or the reclaim job:
    // exactly one of them moves the reservation out of `held`.
    const [claimed] = await tx
      .update(creditReservations)
      .set({ status: "settled", finishedAt: now })
      .where(and(eq(creditReservations.id, reservationId), eq(creditReservations.status, "held")))
      .returning();
    let held = claimed?.amount ?? 0;
    let reservation = claimed;
    if (!reservation) {
      const [late] = await tx
        .update(creditReservations)
        .set({ status: "settled", finishedAt: now })
        .where(and(eq(creditReservations.id, reservationId), eq(creditReservations.status, "expired")))
        .returning();
      if (!late) return settledAlready(tx as unknown as Database, reservationId);
      // Its hold was already given back when it expired.
      held = 0;
      reservation = late;
    }
    const orgId = reservation.orgId;

    const [released] = await tx
      .update(creditBalances)
      .set({ balance: sql`${creditBalances.balance} + ${held}`, updatedAt: now })
      .where(eq(creditBalances.orgId, orgId))
      .returning({ balance: creditBalances.balance });
    // The UPDATE above holds the balance row's lock until commit, so nothing else can spend
    // between reading `available` and charging it.
    const available = released?.balance ?? 0;
    const charged = Math.min(actualCredits, available);
    if (charged < actualCredits) {
      ctx.log.warn("work cost more than the organisation could cover", {
        org_id: orgId,
        reservation_id: reservationId,
        held,
        actual: actualCredits,
        charged,
      });
    }
    const balance = available - charged;
    await tx
      .update(creditBalances)
      .set({ balance: sql`${creditBalances.balance} - ${charged}` })
      .where(eq(creditBalances.orgId, orgId));
    const reference = { referenceType: "reservation", referenceId: reservationId };
    await tx.insert(creditLedger).values([
      ...(held > 0 ? [{ id: newId("cle"), orgId, kind: "release" as const, amount: held, balanceAfter: available, ...reference }] : []),
      {
        id: newId("cle"),
        orgId,
        kind: "usage" as const,
        amount: -charged,
        balanceAfter: balance,
        ...reference,
        note: charged < actualCredits ? `${reservation.feature}: cost ${actualCredits}, balance covered ${charged}` : reservation.feature,
        actorUserId: ctx.actor?.userId ?? null,
      },
    ]);
    await tx.update(creditReservations).set({ charged }).where(eq(creditReservations.id, reservationId));
    const lines = usage === undefined ? [] : Array.isArray(usage) ? chargedLines(usage, charged) : [{ ...usage, credits: charged }];
    if (lines.length > 0) {
      await tx.insert(usageEvents).values(
        lines.map((line) => ({
          id: newId("use"),
          orgId,
          feature: reservation.feature,
          provider: line.provider,
          model: line.model,
          inputTokens: line.inputTokens ?? 0,
          outputTokens: line.outputTokens ?? 0,
          audioSeconds: line.audioSeconds ?? 0,
          characters: line.characters ?? 0,
          credits: line.credits,
          priceSource: line.priceSource,
          reservationId,
        })),
      );
    }
    return { reservationId, charged, balance, created: true };
  });
}

/** The lines with their credits cut, first to last, to what was really charged: the events then sum to the ledger. */
function chargedLines(lines: UsageLine[], charged: number): UsageLine[] {
  let left = charged;
  return lines.map((line) => {
    const credits = Math.min(line.credits, left);
    left -= credits;
    return { ...line, credits };
  });
}

async function settledAlready(db: Database, reservationId: string): Promise<Settlement> {
  const [row] = await db
    .select({ orgId: creditReservations.orgId, status: creditReservations.status, charged: creditReservations.charged, balance: creditBalances.balance })
    .from(creditReservations)
    .leftJoin(creditBalances, eq(creditBalances.orgId, creditReservations.orgId))
    .where(eq(creditReservations.id, reservationId));
  if (!row) throw new NotFound("reservation", reservationId);
  if (row.status !== "settled") throw new Conflict(`Reservation ${reservationId} was ${row.status}; it cannot be settled`);
  return { reservationId, charged: row.charged ?? 0, balance: row.balance ?? 0, created: false };
}

export interface Release {
  reservationId: string;
  status: ReservationStatus;
  /** Credits given back by this call (0 for a repeat). */
  released: number;
  balance: number;
}

/**
 * Gives a hold back because the work failed or never ran. Releasing twice (or after the reclaim
 * job expired it) changes nothing; releasing a settled reservation is a 409.
 */
export async function releaseReservation(ctx: ServiceCtx, reservationId: string): Promise<Release> {
  const [row] = await finishHolds(ctx.db, sql`r.id = ${reservationId}`, "released", ctx.now());
  if (row) return { reservationId, status: "released", released: row.amount, balance: row.balance };
  const [current] = await ctx.db
    .select({ status: creditReservations.status, balance: creditBalances.balance })
    .from(creditReservations)
    .leftJoin(creditBalances, eq(creditBalances.orgId, creditReservations.orgId))
    .where(eq(creditReservations.id, reservationId));
  if (!current) throw new NotFound("reservation", reservationId);
  if (current.status === "settled") throw new Conflict(`Reservation ${reservationId} was settled; it cannot be released`);
  return { reservationId, status: current.status, released: 0, balance: current.balance ?? 0 };
}

// The reclaim job frees at most this many holds per run; the next run takes the rest.
const RECLAIM_BATCH = 500;

/**
 * Gives back every hold that expired before `now` (cron job `credits.reclaim-expired`).
 * Returns how many were reclaimed.
 */
export async function reclaimExpiredReservations(ctx: ServiceCtx): Promise<number> {
  const now = ctx.now();
  const due = await ctx.db
    .select({ id: creditReservations.id })
    .from(creditReservations)
    .where(and(eq(creditReservations.status, "held"), lt(creditReservations.expiresAt, now)))
    .orderBy(creditReservations.expiresAt)
    .limit(RECLAIM_BATCH);
  let reclaimed = 0;
  for (const { id } of due) {
    // Re-checked inside the statement: a settle that won meanwhile leaves nothing to reclaim.
    const rows = await finishHolds(ctx.db, sql`r.id = ${id} AND r.expires_at < ${now.toISOString()}::timestamptz`, "expired", now);
    reclaimed += rows.length;
  }
  if (reclaimed > 0) ctx.log.info("reclaimed expired credit reservations", { count: reclaimed });
  return reclaimed;
}

/**
 * Moves one held reservation matching `condition` to `status` and gives its credits back, in one
 * statement. `status = 'held'` in the UPDATE decides a race with a settle or another release:
 * the loser matches no row and changes nothing.
 */
async function finishHolds(db: Database, condition: ReturnType<typeof sql>, status: "released" | "expired", now: Date) {
  return queryRows<{ amount: number; balance: number }>(
    db,
    sql`
      WITH finished AS (
        UPDATE credit_reservations r SET status = ${status}, finished_at = ${now.toISOString()}::timestamptz
        WHERE r.status = 'held' AND ${condition}
        RETURNING r.id, r.org_id, r.amount
      ),
      credited AS (
        UPDATE credit_balances b SET balance = b.balance + f.amount, updated_at = now()
        FROM finished f WHERE b.org_id = f.org_id
        RETURNING b.org_id, b.balance, f.id, f.amount
      )
      INSERT INTO credit_ledger (id, org_id, kind, amount, balance_after, reference_type, reference_id, note)
      SELECT ${newId("cle")}, org_id, 'release', amount, balance, 'reservation', id, ${status === "expired" ? "hold expired" : "work did not complete"}
      FROM credited
      RETURNING amount, balance_after AS balance`,
  );
}
