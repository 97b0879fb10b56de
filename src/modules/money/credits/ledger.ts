/**
 * The credit ledger: an append-only list of entries per organisation, and a balance row that is
 * always the sum of them, changed in the same statement or transaction as the entry it sums.
 *
 * Units: credits are whole numbers; 1 credit = USD 0.001 (see prices.ts).
 *
 * New organisations: nothing is written at sign-up. The first time an organisation's balance is
 * needed (a read, a debit, a grant), its balance row is created holding the free plan's monthly
 * allowance, together with a `grant` entry referenced `{type: "plan_period", id: "free:YYYY-MM"}`.
 * Creating the row and its entry is one statement, and the row's primary key decides a race
 * between two first uses, so the allowance is granted exactly once.
 */
import { and, desc, eq, lt, type SQL, sql } from "drizzle-orm";
import { type Database, withTransaction } from "../../../db/client";
import { type CreditEntryKind, creditBalances, creditLedger } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { PaymentRequired, Unprocessable } from "../../../lib/errors";
import { newId } from "../../../lib/ids";
import { type Page, type PageRequest, toPage } from "../../../lib/pagination";
import { DEFAULT_PLAN, PLANS, planPeriodReference } from "../plans/plans";

export interface CreditReference {
  /** What caused the entry: `stripe_event`, `checkout_session`, `reservation`, `plan_period`, `adjustment`, ... */
  type: string;
  id: string;
}

/** Kinds `grantCredits` writes; `usage`, `reservation` and `release` come from debits and reservations. */
export type GrantKind = Extract<CreditEntryKind, "grant" | "purchase" | "refund" | "expiry" | "adjustment">;

export interface GrantInput {
  orgId: string;
  /**
   * Credits to add (positive) or take away (negative). `grant` and `purchase` must be positive;
   * `expiry` always takes away (its sign is ignored); `refund` and `adjustment` follow the sign:
   * a refund of credits for failed work is positive, taking back a refunded purchase is negative.
   */
  amount: number;
  kind: GrantKind;
  reference: CreditReference;
  note?: string;
}

export interface LedgerWrite {
  entryId: string;
  /** The balance after the entry (or, for a repeat, the balance now). */
  balance: number;
  /** False when an entry for this (org, kind, reference) already existed: nothing changed. */
  created: boolean;
}

export type LedgerEntryRow = typeof creditLedger.$inferSelect;

/** `SELECT ...` helper: drizzle's raw `execute` answers `{rows}` on both Neon drivers. */
export async function queryRows<T>(db: Database, query: SQL): Promise<T[]> {
  const result = (await db.execute(query)) as unknown as { rows: T[] };
  return result.rows;
}

/**
 * Creates the organisation's balance row with the free plan's allowance, and its `grant` entry,
 * if the row does not exist yet. One statement: the INSERT of the balance row decides the race
 * between two first uses (ON CONFLICT DO NOTHING; the loser inserts neither row nor entry).
 */
export async function ensureBalanceRow(db: Database, orgId: string, now: Date): Promise<void> {
  const allowance = PLANS[DEFAULT_PLAN].monthlyCredits;
  const reference = planPeriodReference(DEFAULT_PLAN, now);
  await db.execute(sql`
    WITH created AS (
      INSERT INTO credit_balances (org_id, balance) VALUES (${orgId}, ${allowance})
      ON CONFLICT (org_id) DO NOTHING
      RETURNING org_id, balance
    )
    INSERT INTO credit_ledger (id, org_id, kind, amount, balance_after, reference_type, reference_id, note)
    SELECT ${newId("cle")}, org_id, 'grant', balance, balance, ${reference.type}, ${reference.id}, ${`${PLANS[DEFAULT_PLAN].name} plan allowance`}
    FROM created`);
}

/** The organisation's spendable credits (held reservations are already taken out). */
export async function getBalance(ctx: ServiceCtx, orgId: string): Promise<number> {
  const read = async () => (await ctx.db.select({ balance: creditBalances.balance }).from(creditBalances).where(eq(creditBalances.orgId, orgId)))[0];
  const row = await read();
  if (row) return row.balance;
  await ensureBalanceRow(ctx.db, orgId, ctx.now());
  return (await read())?.balance ?? 0;
}

/**
 * Appends one entry and moves the balance by it, idempotently per (org, kind, reference): a
 * repeat (a webhook delivered again, even concurrently) returns the first entry with
 * `created: false` and changes nothing. Taking credits away never goes below zero: the entry
 * records what was actually removed, and its note says what was asked.
 */
export async function grantCredits(ctx: ServiceCtx, input: GrantInput): Promise<LedgerWrite> {
  const requested = input.kind === "expiry" ? -Math.abs(input.amount) : input.amount;
  if (!Number.isSafeInteger(requested)) throw new Unprocessable([{ path: "amount", message: "must be a whole number of credits" }]);
  if ((input.kind === "grant" || input.kind === "purchase") && requested <= 0) {
    throw new Unprocessable([{ path: "amount", message: `a ${input.kind} must add credits` }]);
  }
  return withTransaction(ctx, async (tx) => {
    const db = tx as unknown as Database;
    await ensureBalanceRow(db, input.orgId, ctx.now());
    // Every write to an organisation's credits locks its balance row (debits through their
    // UPDATE), so the repeat check below cannot race another delivery of the same event: the
    // second waits here, then sees the first's committed entry. The unique index is the backstop.
    const [locked] = await tx.select({ balance: creditBalances.balance }).from(creditBalances).where(eq(creditBalances.orgId, input.orgId)).for("update");
    const before = locked?.balance ?? 0;
    const [existing] = await tx
      .select({ id: creditLedger.id })
      .from(creditLedger)
      .where(
        and(
          eq(creditLedger.orgId, input.orgId),
          eq(creditLedger.kind, input.kind),
          eq(creditLedger.referenceType, input.reference.type),
          eq(creditLedger.referenceId, input.reference.id),
        ),
      );
    if (existing) return { entryId: existing.id, balance: before, created: false };

    const applied = requested < 0 ? -Math.min(-requested, before) : requested;
    const after = before + applied;
    const clampNote = applied !== requested ? `asked ${requested}, removed ${-applied}: the balance cannot go below zero` : undefined;
    const entryId = newId("cle");
    await tx.insert(creditLedger).values({
      id: entryId,
      orgId: input.orgId,
      kind: input.kind,
      amount: applied,
      balanceAfter: after,
      referenceType: input.reference.type,
      referenceId: input.reference.id,
      note: [input.note, clampNote].filter(Boolean).join("; ") || null,
      actorUserId: ctx.actor?.userId ?? null,
    });
    await tx
      .update(creditBalances)
      .set({ balance: sql`${creditBalances.balance} + ${applied}`, updatedAt: ctx.now() })
      .where(eq(creditBalances.orgId, input.orgId));
    if (clampNote) ctx.log.warn("credit removal clamped at zero", { org_id: input.orgId, kind: input.kind, requested, applied });
    return { entryId, balance: after, created: true };
  });
}

/**
 * The conditional debit every spend goes through, as a CTE named `debited` yielding the new
 * balance, or no row when the organisation has too few credits.
 *
 * Race closed: two requests that each read "balance 5, need 5" and then both subtract would
 * overdraw. Here the check and the subtraction are one UPDATE: Postgres re-evaluates
 * `balance >= n` on the row version left by a concurrent debit after waiting for its lock, so the
 * second request matches no row instead of going negative.
 */
export function debitedCte(orgId: string, amount: number): SQL {
  return sql`debited AS (
    UPDATE credit_balances SET balance = balance - ${amount}, updated_at = now()
    WHERE org_id = ${orgId} AND balance >= ${amount}
    RETURNING balance
  )`;
}

// A miss followed by a read showing enough credits means the balance row appeared or grew in
// between (a concurrent first use, a grant); trying again is right, but only a few times.
const DEBIT_ATTEMPTS = 3;

/**
 * Runs a statement built on `debitedCte` that answers at least one row on success. With no row,
 * tells apart "no balance row yet" (creates it with the free allowance and tries again) from
 * "too few credits" (402 with the balance and what was needed).
 */
export async function runDebit<T>(ctx: ServiceCtx, orgId: string, amount: number, statement: () => SQL): Promise<T> {
  let balance = 0;
  for (let attempt = 1; attempt <= DEBIT_ATTEMPTS; attempt++) {
    const [row] = await queryRows<T>(ctx.db, statement());
    if (row) return row;
    const [current] = await ctx.db.select({ balance: creditBalances.balance }).from(creditBalances).where(eq(creditBalances.orgId, orgId));
    if (!current) {
      await ensureBalanceRow(ctx.db, orgId, ctx.now());
      continue;
    }
    balance = current.balance;
    if (balance < amount) break;
  }
  throw new PaymentRequired(balance, amount);
}

export interface DebitInput {
  orgId: string;
  amount: number;
  reference: CreditReference;
  note?: string;
}

/**
 * Charges `amount` credits at once as a `usage` entry (work with a known price, no reservation),
 * or throws `PaymentRequired`. The conditional UPDATE and the ledger INSERT are one statement,
 * hence one transaction and one round trip; inside `withTransaction` it joins the open one.
 */
export async function debitCredits(ctx: ServiceCtx, input: DebitInput): Promise<{ entryId: string; balance: number }> {
  if (!Number.isSafeInteger(input.amount) || input.amount < 0) throw new Unprocessable([{ path: "amount", message: "must be a whole number >= 0" }]);
  const entryId = newId("cle");
  const row = await runDebit<{ balance_after: number }>(ctx, input.orgId, input.amount, () =>
    debitStatement({ ...input, entryId, actorUserId: ctx.actor?.userId ?? null }),
  );
  return { entryId, balance: Number(row.balance_after) };
}

/**
 * The debit statement: `debitedCte` plus its `usage` entry, answering `balance_after`, or no row
 * when the credits are short. Exported for the benchmark, which runs exactly this SQL.
 */
export function debitStatement(input: DebitInput & { entryId: string; actorUserId: string | null }): SQL {
  return sql`
    WITH ${debitedCte(input.orgId, input.amount)}
    INSERT INTO credit_ledger (id, org_id, kind, amount, balance_after, reference_type, reference_id, note, actor_user_id)
    SELECT ${input.entryId}, ${input.orgId}, 'usage', ${-input.amount}, balance, ${input.reference.type}, ${input.reference.id}, ${input.note ?? null}, ${input.actorUserId}
    FROM debited
    RETURNING balance_after`;
}

/** An organisation's ledger entries, newest first. */
export async function listLedgerEntries(ctx: ServiceCtx, orgId: string, page: PageRequest): Promise<Page<LedgerEntryView>> {
  // A first look at the ledger shows the free allowance, as the balance does.
  await getBalance(ctx, orgId);
  const rows = await ctx.db
    .select()
    .from(creditLedger)
    .where(and(eq(creditLedger.orgId, orgId), page.cursor ? lt(creditLedger.id, page.cursor) : undefined))
    .orderBy(desc(creditLedger.id))
    .limit(page.limit + 1);
  return toPage(rows, page.limit, (row) => row.id, ledgerEntryView);
}

export interface LedgerEntryView {
  id: string;
  kind: CreditEntryKind;
  amount: number;
  balance_after: number;
  reference: CreditReference;
  note: string | null;
  created_at: string;
}

export function ledgerEntryView(row: LedgerEntryRow): LedgerEntryView {
  return {
    id: row.id,
    kind: row.kind,
    amount: row.amount,
    balance_after: row.balanceAfter,
    reference: { type: row.referenceType, id: row.referenceId },
    note: row.note,
    created_at: row.createdAt.toISOString(),
  };
}

/** One ledger entry of an organisation, for callers that hold an entry id from `grantCredits`. */
export async function getLedgerEntry(ctx: ServiceCtx, orgId: string, entryId: string): Promise<LedgerEntryRow | undefined> {
  const [row] = await ctx.db
    .select()
    .from(creditLedger)
    .where(and(eq(creditLedger.orgId, orgId), eq(creditLedger.id, entryId)));
  return row;
}
