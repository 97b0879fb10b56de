import { desc, lt, type SQL, sql } from "drizzle-orm";
import { type Page, type PageRequest, toPage } from "../lib/pagination";
import type { Database } from "./client";
import type { customerLedger, merchantLedger } from "./schema";

/** The append-only ledgers that share this shape: signed amounts, a kind, a reference, a note. */
type LedgerTable = typeof customerLedger | typeof merchantLedger;

export interface LedgerEntryPageItem<Kind extends string> {
  id: string;
  kind: Kind;
  amount: number;
  balance_after: number;
  currency: string;
  reference_type: string | null;
  reference_id: string | null;
  note: string | null;
  created_at: string;
}

/**
 * One page of a ledger's entries for one owner (`owner` filters the table), newest first, each
 * with the balance right after it. The window runs over the owner's whole ledger before the page
 * is cut, so the running balance of an older page still counts every entry before it.
 */
export async function runningLedgerPage<Kind extends string>(
  db: Database,
  ledger: LedgerTable,
  owner: SQL | undefined,
  page: PageRequest,
  currency: string,
): Promise<Page<LedgerEntryPageItem<Kind>>> {
  const running = db
    .select({
      id: ledger.id,
      kind: ledger.kind,
      amount: ledger.amount,
      referenceType: ledger.referenceType,
      referenceId: ledger.referenceId,
      note: ledger.note,
      createdAt: ledger.createdAt,
      balanceAfter: sql<string>`sum(${ledger.amount}) over (order by ${ledger.id})`.as("balance_after"),
    })
    .from(ledger)
    .where(owner)
    .as("running");
  const rows = await db
    .select()
    .from(running)
    .where(page.cursor ? lt(running.id, page.cursor) : undefined)
    .orderBy(desc(running.id))
    .limit(page.limit + 1);
  return toPage(
    rows,
    page.limit,
    (r) => r.id,
    (r) => ({
      id: r.id,
      kind: r.kind as Kind,
      amount: Number(r.amount),
      balance_after: Number(r.balanceAfter),
      currency,
      reference_type: r.referenceType,
      reference_id: r.referenceId,
      note: r.note,
      created_at: new Date(r.createdAt).toISOString(),
    }),
  );
}
