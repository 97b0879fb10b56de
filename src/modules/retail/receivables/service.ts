import { and, asc, desc, eq, gte, inArray, lt, sql } from "drizzle-orm";
import { alias } from "drizzle-orm/pg-core";
import { type Database, type Transaction, withTransaction } from "../../../db/client";
import { isUniqueViolation } from "../../../db/errors";
import { billPayments, billRefunds, bills, customerLedger, customerPayments, customers } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { Conflict, NotFound, Unprocessable } from "../../../lib/errors";
import { newId } from "../../../lib/ids";
import { type Page, type PageRequest, toPage } from "../../../lib/pagination";
import { recordAudit } from "../../identity/audit/service";
import { assertCan, requireOrgId } from "../../identity/auth/principal";
import { loadOrg } from "../../identity/orgs/service";
import { lockCustomerForCredit, recordCustomerLedgerEntry } from "../customers/service";
import type {
  AllocationView,
  CustomerPaymentInput,
  CustomerPaymentResultView,
  CustomerPaymentView,
  StatementEntryView,
  StatementInput,
  StatementView,
} from "./schemas";

type BillRow = typeof bills.$inferSelect;
type PaymentRow = typeof customerPayments.$inferSelect;

/** A statement is a document, not a feed: past this many entries the caller narrows the dates. */
const MAX_STATEMENT_ENTRIES = 2000;

function paymentView(row: PaymentRow, allocations: AllocationView[], currency: string): CustomerPaymentView {
  return {
    id: row.id,
    customer_id: row.customerId,
    amount: row.amount,
    allocated: row.allocated,
    credit: row.amount - row.allocated,
    currency,
    method: row.method,
    reference: row.reference,
    allocations,
    created_at: row.createdAt.toISOString(),
  };
}

/** The bills each payment paid, in the order it paid them (bill_payments ids are time-ordered). */
async function allocationsOf(db: Database | Transaction, paymentIds: string[]): Promise<Map<string, AllocationView[]>> {
  const byPayment = new Map<string, AllocationView[]>();
  if (paymentIds.length === 0) return byPayment;
  const rows = await db
    .select({
      paymentId: billPayments.customerPaymentId,
      billId: billPayments.billId,
      number: bills.number,
      amount: billPayments.amount,
      total: bills.total,
      amountPaid: bills.amountPaid,
    })
    .from(billPayments)
    .innerJoin(bills, eq(bills.id, billPayments.billId))
    .where(inArray(billPayments.customerPaymentId, paymentIds))
    .orderBy(asc(billPayments.id));
  for (const row of rows) {
    if (!row.paymentId) continue;
    const list = byPayment.get(row.paymentId) ?? [];
    list.push({ bill_id: row.billId, number: row.number, amount: row.amount, balance_due: row.total - row.amountPaid });
    byPayment.set(row.paymentId, list);
  }
  return byPayment;
}

/**
 * The order a payment pays bills in: the bills named, in the caller's order (each must be one of
 * the customer's unpaid bills), or else the oldest issued first.
 */
function allocationOrder(open: BillRow[], named: string[] | undefined): BillRow[] {
  if (!named) {
    return [...open].sort((a, b) => (a.issuedAt?.getTime() ?? 0) - (b.issuedAt?.getTime() ?? 0) || (a.number ?? "").localeCompare(b.number ?? ""));
  }
  const byId = new Map(open.map((bill) => [bill.id, bill]));
  const errors = named.flatMap((id, index) => {
    if (named.indexOf(id) !== index) return [{ path: `bill_ids.${index}`, message: `${id} is named twice` }];
    return byId.has(id) ? [] : [{ path: `bill_ids.${index}`, message: `${id} is not an unpaid bill of this customer` }];
  });
  if (errors.length > 0) throw new Unprocessable(errors);
  return named.map((id) => byId.get(id) as BillRow);
}

/**
 * Takes a payment on account. Locks, in the order every bill writer uses (bills, then the
 * customer), the customer's unpaid bills and then the customer, so a concurrent bill payment or
 * a second payment on account waits and then sees what this one left due. The money pays bills
 * in allocation order; what is left stays on the ledger as credit, which the next issued bill
 * uses. One ledger entry records the whole amount. A repeated Idempotency-Key returns the first
 * payment; the same key with a different amount or method is a 409.
 */
export async function receiveCustomerPayment(
  ctx: ServiceCtx,
  customerId: string,
  input: CustomerPaymentInput,
  idempotencyKey: string | undefined,
): Promise<CustomerPaymentResultView> {
  assertCan(ctx, "bills:write");
  const orgId = requireOrgId(ctx);
  const { currency } = await loadOrg(ctx.db, orgId, null);
  try {
    return await withTransaction(ctx, async (tx) => {
      // Id order for the locks, whatever order the money goes in: two payments naming the same
      // bills in different orders would otherwise each hold one and wait for the other.
      const open = await tx
        .select()
        .from(bills)
        .where(and(eq(bills.orgId, orgId), eq(bills.customerId, customerId), inArray(bills.status, ["issued", "partially_paid"])))
        .orderBy(asc(bills.id))
        .for("update");
      const { balance } = await lockCustomerForCredit(tx, orgId, customerId);

      if (idempotencyKey) {
        const [existing] = await tx
          .select()
          .from(customerPayments)
          .where(and(eq(customerPayments.orgId, orgId), eq(customerPayments.customerId, customerId), eq(customerPayments.idempotencyKey, idempotencyKey)));
        if (existing) {
          if (existing.amount !== input.amount || existing.method !== input.method) {
            throw new Conflict("This Idempotency-Key was used for a different payment; use a new key for a new payment");
          }
          const allocations = (await allocationsOf(tx, [existing.id])).get(existing.id) ?? [];
          return { ...paymentView(existing, allocations, currency), customer_balance: balance };
        }
      }

      const plan: { bill: BillRow; amount: number }[] = [];
      let remaining = input.amount;
      for (const bill of allocationOrder(open, input.bill_ids)) {
        const amount = Math.min(bill.total - bill.amountPaid, remaining);
        if (amount <= 0) continue;
        plan.push({ bill, amount });
        remaining -= amount;
      }
      const now = ctx.now();
      const [payment] = await tx
        .insert(customerPayments)
        .values({
          id: newId("cpy"),
          orgId,
          customerId,
          amount: input.amount,
          allocated: input.amount - remaining,
          method: input.method,
          reference: input.reference ?? null,
          idempotencyKey: idempotencyKey ?? null,
          createdBy: ctx.actor?.userId ?? null,
          createdAt: now,
        })
        .returning();
      if (!payment) throw new Error("payment insert returned no row");

      const allocations: AllocationView[] = [];
      for (const { bill, amount } of plan) {
        await tx.insert(billPayments).values({
          id: newId("bpy"),
          billId: bill.id,
          orgId,
          amount,
          method: input.method,
          reference: input.reference ?? null,
          customerPaymentId: payment.id,
          createdBy: ctx.actor?.userId ?? null,
          createdAt: now,
        });
        const amountPaid = bill.amountPaid + amount;
        await tx
          .update(bills)
          .set({ amountPaid, status: amountPaid >= bill.total ? "paid" : "partially_paid", updatedAt: now })
          .where(eq(bills.id, bill.id));
        allocations.push({ bill_id: bill.id, number: bill.number, amount, balance_due: bill.total - amountPaid });
      }

      const inner = { ...ctx, db: tx };
      const paid = allocations.map((a) => a.number).join(", ");
      await recordCustomerLedgerEntry(inner, {
        customerId,
        kind: "payment",
        amount: -input.amount,
        reference: { type: "customer_payment", id: payment.id },
        note: paid ? `Payment on account for ${paid}` : "Payment on account",
      });
      await recordAudit(inner, {
        orgId,
        action: "customer.payment_received",
        targetType: "customer",
        targetId: customerId,
        metadata: { payment_id: payment.id, amount: input.amount, allocated: payment.allocated },
      });
      return { ...paymentView(payment, allocations, currency), customer_balance: balance - input.amount };
    });
  } catch (error) {
    // Only reachable if the locks were bypassed; the unique index is the last word on a key.
    if (isUniqueViolation(error)) throw new Conflict("A payment with this Idempotency-Key is being recorded");
    throw error;
  }
}

/** A customer's payments on account, newest first, each with the bills it paid. */
export async function listCustomerPayments(ctx: ServiceCtx, customerId: string, page: PageRequest): Promise<Page<CustomerPaymentView>> {
  assertCan(ctx, "customers:read");
  const orgId = requireOrgId(ctx);
  await requireCustomer(ctx.db, orgId, customerId);
  const { currency } = await loadOrg(ctx.db, orgId, null);
  const rows = await ctx.db
    .select()
    .from(customerPayments)
    .where(and(eq(customerPayments.orgId, orgId), eq(customerPayments.customerId, customerId), page.cursor ? lt(customerPayments.id, page.cursor) : undefined))
    .orderBy(desc(customerPayments.id))
    .limit(page.limit + 1);
  const allocations = await allocationsOf(
    ctx.db,
    rows.slice(0, page.limit).map((r) => r.id),
  );
  return toPage(
    rows,
    page.limit,
    (r) => r.id,
    (r) => paymentView(r, allocations.get(r.id) ?? [], currency),
  );
}

async function requireCustomer(db: Database | Transaction, orgId: string, customerId: string): Promise<{ id: string; name: string }> {
  const [row] = await db
    .select({ id: customers.id, name: customers.name })
    .from(customers)
    .where(and(eq(customers.id, customerId), eq(customers.orgId, orgId)));
  if (!row) throw new NotFound("customer", customerId);
  return row;
}

function describe(kind: StatementEntryView["kind"], billNumber: string | null, note: string | null): string {
  switch (kind) {
    case "bill":
      return `Bill ${billNumber ?? ""}`.trim();
    case "opening_balance":
      return "Opening balance";
    case "payment":
      return note ?? "Payment received";
    case "credit_note":
      return note ?? "Credit note";
    case "refund":
      return note ?? "Refund paid";
    case "adjustment":
      return note ?? "Adjustment";
  }
}

function addDays(day: string, days: number): string {
  const date = new Date(`${day}T00:00:00.000Z`);
  date.setUTCDate(date.getUTCDate() + days);
  return date.toISOString().slice(0, 10);
}

/**
 * A customer's statement for whole UTC days `from`..`to`: the balance brought forward, every
 * ledger entry of the period with the bill it concerns and the running balance, and the closing
 * balance. Built from the ledger alone, so it always agrees with the customer's balance.
 */
export async function customerStatement(ctx: ServiceCtx, customerId: string, query: StatementInput): Promise<StatementView> {
  assertCan(ctx, "customers:read");
  const orgId = requireOrgId(ctx);
  const customer = await requireCustomer(ctx.db, orgId, customerId);
  const { currency } = await loadOrg(ctx.db, orgId, null);
  const to = query.to ?? ctx.now().toISOString().slice(0, 10);
  const from = query.from ?? addDays(to, -90);
  if (from > to) throw new Unprocessable([{ path: "from", message: `\`from\` (${from}) is after \`to\` (${to})` }]);
  const start = new Date(`${from}T00:00:00.000Z`);
  const end = new Date(`${addDays(to, 1)}T00:00:00.000Z`);
  const ofCustomer = and(eq(customerLedger.orgId, orgId), eq(customerLedger.customerId, customerId));

  const [opening] = await ctx.db
    .select({ balance: sql<number>`coalesce(sum(${customerLedger.amount}), 0)`.mapWith(Number) })
    .from(customerLedger)
    .where(and(ofCustomer, lt(customerLedger.createdAt, start)));

  // The bill behind an entry is the entry's own reference, or the bill of the payment or refund
  // it references.
  const billed = alias(bills, "billed");
  const paidBill = alias(bills, "paid_bill");
  const refundedBill = alias(bills, "refunded_bill");
  const rows = await ctx.db
    .select({
      id: customerLedger.id,
      kind: customerLedger.kind,
      amount: customerLedger.amount,
      note: customerLedger.note,
      createdAt: customerLedger.createdAt,
      billId: sql<string | null>`coalesce(${billed.id}, ${paidBill.id}, ${refundedBill.id})`,
      billNumber: sql<string | null>`coalesce(${billed.number}, ${paidBill.number}, ${refundedBill.number})`,
    })
    .from(customerLedger)
    .leftJoin(billed, and(eq(customerLedger.referenceType, "bill"), eq(billed.id, customerLedger.referenceId)))
    .leftJoin(billPayments, and(eq(customerLedger.referenceType, "bill_payment"), eq(billPayments.id, customerLedger.referenceId)))
    .leftJoin(paidBill, eq(paidBill.id, billPayments.billId))
    .leftJoin(billRefunds, and(eq(customerLedger.referenceType, "bill_refund"), eq(billRefunds.id, customerLedger.referenceId)))
    .leftJoin(refundedBill, eq(refundedBill.id, billRefunds.billId))
    .where(and(ofCustomer, gte(customerLedger.createdAt, start), lt(customerLedger.createdAt, end)))
    .orderBy(asc(customerLedger.createdAt), asc(customerLedger.id))
    .limit(MAX_STATEMENT_ENTRIES + 1);
  if (rows.length > MAX_STATEMENT_ENTRIES) {
    throw new Unprocessable([{ path: "from", message: `More than ${MAX_STATEMENT_ENTRIES} entries in this period; ask for fewer days` }]);
  }

  const openingBalance = opening?.balance ?? 0;
  let balance = openingBalance;
  let totalDebits = 0;
  let totalCredits = 0;
  const entries = rows.map((row): StatementEntryView => {
    balance += row.amount;
    if (row.amount > 0) totalDebits += row.amount;
    else totalCredits -= row.amount;
    return {
      date: new Date(row.createdAt).toISOString(),
      kind: row.kind,
      description: describe(row.kind, row.billNumber, row.note),
      bill_id: row.billId,
      bill_number: row.billNumber,
      debit: Math.max(row.amount, 0),
      credit: Math.max(-row.amount, 0),
      balance,
    };
  });
  return {
    customer,
    currency,
    from,
    to,
    opening_balance: openingBalance,
    total_debits: totalDebits,
    total_credits: totalCredits,
    closing_balance: balance,
    entries,
  };
}
