import { and, asc, desc, eq, ilike, inArray, lt, or, type SQL, sql } from "drizzle-orm";
import { type Database, type Transaction, withTransaction } from "../../../db/client";
import { isUniqueViolation } from "../../../db/errors";
import { billItems, billNumberSequences, billPayments, bills } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { AppError, Conflict, NotFound, Unprocessable } from "../../../lib/errors";
import { newId } from "../../../lib/ids";
import { type Page, toPage } from "../../../lib/pagination";
import { quantityText } from "../../../lib/quantity";
import { recordAudit } from "../../identity/audit/service";
import { assertCan, requireOrgId } from "../../identity/auth/principal";
import { billSettingsFor } from "../../identity/org-settings/service";
import { loadOrg } from "../../identity/orgs/service";
import { chargeWithinLimit, getCustomerBalance, lockCustomerForCredit, recordCustomerLedgerEntry } from "../customers/service";
import { getProducts, moveStock } from "../products/service";
import { withStockRights } from "../products/stock-access";
import { billAmounts, lineAmounts, thousandths } from "./money";
import { type ReceiptFacts, sendPaymentReceipt } from "./payment-receipts";
import type { BillItemView, BillListInput, BillPaymentView, BillView, CreateBillInput, CreatePaymentInput } from "./schemas";

type BillRow = typeof bills.$inferSelect;
type ItemRow = typeof billItems.$inferSelect;
type PaymentRow = typeof billPayments.$inferSelect;

function itemView(row: ItemRow): BillItemView {
  return {
    id: row.id,
    position: row.position,
    product_id: row.productId,
    description: row.description,
    quantity: quantityText(row.quantity),
    unit: row.unit,
    unit_price: row.unitPrice,
    discount: row.discount,
    tax_rate_bps: row.taxRateBps,
    line_subtotal: row.lineSubtotal,
    line_tax: row.lineTax,
    line_total: row.lineTotal,
  };
}

export function billView(row: BillRow, items: ItemRow[]): BillView {
  return {
    id: row.id,
    number: row.number,
    status: row.status,
    customer_id: row.customerId,
    currency: row.currency,
    subtotal: row.subtotal,
    discount: row.discount,
    tax: row.tax,
    total: row.total,
    amount_paid: row.amountPaid,
    amount_refunded: row.amountRefunded,
    balance_due: row.status === "void" ? 0 : row.total - row.amountPaid,
    prices_include_tax: row.pricesIncludeTax,
    due_date: row.dueDate,
    notes: row.notes,
    issued_at: row.issuedAt?.toISOString() ?? null,
    voided_at: row.voidedAt?.toISOString() ?? null,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
    items: [...items].sort((a, b) => a.position - b.position).map(itemView),
  };
}

function paymentView(row: PaymentRow): BillPaymentView {
  return {
    id: row.id,
    bill_id: row.billId,
    amount: row.amount,
    method: row.method,
    reference: row.reference,
    customer_payment_id: row.customerPaymentId,
    created_at: row.createdAt.toISOString(),
  };
}

export async function itemsOf(db: Database | Transaction, billId: string): Promise<ItemRow[]> {
  return db.select().from(billItems).where(eq(billItems.billId, billId)).orderBy(asc(billItems.position));
}

/** The bill of the organisation, optionally locked for the rest of the transaction; else 404. */
export async function getBillRow(db: Database | Transaction, orgId: string, id: string, lock = false): Promise<BillRow> {
  const query = db
    .select()
    .from(bills)
    .where(and(eq(bills.id, id), eq(bills.orgId, orgId)));
  const [row] = lock ? await query.for("update") : await query;
  if (!row) throw new NotFound("bill", id);
  return row;
}

async function loadBillView(db: Database | Transaction, orgId: string, id: string): Promise<BillView> {
  const row = await getBillRow(db, orgId, id);
  return billView(row, await itemsOf(db, id));
}

/** `ctx` writing through the open transaction, for the ledger and audit calls that join it. */
function ledger(ctx: ServiceCtx, tx: Transaction): ServiceCtx {
  return { ...ctx, db: tx };
}

// ---- create ------------------------------------------------------------------------------

interface PricedLine {
  productId: string | null;
  description: string;
  quantity: string;
  unit: string;
  unitPrice: number;
  discount: number;
  taxRateBps: number;
}

async function priceLines(ctx: ServiceCtx, input: CreateBillInput, defaultTaxRateBps: number): Promise<PricedLine[]> {
  const productIds = input.items.flatMap((item) => (item.product_id ? [item.product_id] : []));
  const products = await getProducts(withStockRights(ctx, ctx.db), productIds);
  const lines: PricedLine[] = [];
  for (const [index, item] of input.items.entries()) {
    const path = `items.${index}`;
    if (item.product_id) {
      const product = products.get(item.product_id);
      if (!product) throw new Unprocessable([{ path: `${path}.product_id`, message: `No product ${item.product_id} in this organisation` }]);
      if (product.archived_at) throw new Unprocessable([{ path: `${path}.product_id`, message: `${product.name} is archived` }]);
      lines.push({
        productId: product.id,
        description: item.description ?? product.name,
        quantity: item.quantity,
        unit: product.unit,
        unitPrice: item.unit_price ?? product.price,
        discount: item.discount ?? 0,
        taxRateBps: product.tax_rate_bps,
      });
      continue;
    }
    const errors = [];
    if (!item.description) errors.push({ path: `${path}.description`, message: "A line without product_id needs a description" });
    if (item.unit_price === undefined) errors.push({ path: `${path}.unit_price`, message: "A line without product_id needs a unit_price" });
    if (errors.length > 0 || !item.description || item.unit_price === undefined) throw new Unprocessable(errors);
    lines.push({
      productId: null,
      description: item.description,
      quantity: item.quantity,
      unit: item.unit ?? "piece",
      unitPrice: item.unit_price,
      discount: item.discount ?? 0,
      taxRateBps: item.tax_rate_bps ?? defaultTaxRateBps,
    });
  }
  return lines;
}

/**
 * Creates a draft bill with server-computed totals (the rule is in money.ts); with
 * `issue: true` it is issued in the same transaction, so either both happen or neither.
 */
export async function createBill(ctx: ServiceCtx, input: CreateBillInput): Promise<BillView> {
  assertCan(ctx, "bills:write");
  const orgId = requireOrgId(ctx);
  if (input.customer_id) {
    await getCustomerBalance(ctx, input.customer_id).catch((error: unknown) => {
      if (error instanceof AppError && error.status === 404) {
        throw new Unprocessable([{ path: "customer_id", message: `No customer ${input.customer_id} in this organisation` }]);
      }
      throw error;
    });
  }
  const lines = await priceLines(ctx, input, (await billSettingsFor(ctx, orgId)).default_tax_rate_bps);
  const org = await loadOrg(ctx.db, orgId, null);
  const amounts = lines.map((line, index) => {
    const computed = lineAmounts(line, org.prices_include_tax);
    if (line.discount > computed.gross) {
      throw new Unprocessable([{ path: `items.${index}.discount`, message: `The discount is more than the line's amount of ${computed.gross}` }]);
    }
    return computed;
  });
  const totals = billAmounts(amounts, input.discount ?? 0);
  if (totals.discount > totals.subtotal) {
    throw new Unprocessable([{ path: "discount", message: `The discount is more than the subtotal of ${totals.subtotal}` }]);
  }
  const id = newId("bill");
  const now = ctx.now();
  return withTransaction(ctx, async (tx) => {
    // Inserting the bill takes a key-share lock on the customer row (the foreign key); two
    // racing create-and-issue calls would then both wait to upgrade it in chargeWithinLimit and
    // deadlock. Taking the credit lock first makes the second one simply wait.
    if (input.issue && input.customer_id) await lockCustomerForCredit(tx, orgId, input.customer_id);
    await tx.insert(bills).values({
      id,
      orgId,
      customerId: input.customer_id ?? null,
      status: "draft",
      currency: org.currency,
      pricesIncludeTax: org.prices_include_tax,
      ...totals,
      dueDate: input.due_date ?? null,
      notes: input.notes ?? null,
      createdBy: ctx.actor?.userId ?? null,
      createdAt: now,
      updatedAt: now,
    });
    await tx.insert(billItems).values(
      lines.map((line, index) => {
        const computed = amounts[index];
        if (!computed) throw new Error("line without amounts");
        return {
          id: newId("bli"),
          billId: id,
          position: index + 1,
          productId: line.productId,
          description: line.description,
          quantity: line.quantity,
          unit: line.unit,
          unitPrice: line.unitPrice,
          discount: line.discount,
          taxRateBps: line.taxRateBps,
          lineSubtotal: computed.lineSubtotal,
          lineTax: computed.lineTax,
          lineTotal: computed.lineTotal,
        };
      }),
    );
    await recordAudit({ ...ctx, db: tx }, { orgId, action: "bill.created", targetType: "bill", targetId: id, metadata: { total: totals.total } });
    if (input.issue) return issueInTransaction(ctx, tx, orgId, id);
    return loadBillView(tx, orgId, id);
  });
}

// ---- read --------------------------------------------------------------------------------

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** Bills of the organisation, newest first, each with its lines. */
export async function listBills(ctx: ServiceCtx, query: BillListInput): Promise<Page<BillView>> {
  assertCan(ctx, "bills:read");
  const orgId = requireOrgId(ctx);
  const filters: (SQL | undefined)[] = [eq(bills.orgId, orgId)];
  if (query.cursor) filters.push(lt(bills.id, query.cursor));
  if (query.status) filters.push(eq(bills.status, query.status));
  if (query.customer_id) filters.push(eq(bills.customerId, query.customer_id));
  if (query.q) {
    const pattern = `%${escapeLike(query.q)}%`;
    filters.push(or(ilike(bills.number, pattern), ilike(bills.notes, pattern)));
  }
  const rows = await ctx.db
    .select()
    .from(bills)
    .where(and(...filters))
    .orderBy(desc(bills.id))
    .limit(query.limit + 1);
  const ids = rows.slice(0, query.limit).map((r) => r.id);
  const items = ids.length > 0 ? await ctx.db.select().from(billItems).where(inArray(billItems.billId, ids)) : [];
  return toPage(
    rows,
    query.limit,
    (r) => r.id,
    (r) =>
      billView(
        r,
        items.filter((i) => i.billId === r.id),
      ),
  );
}

export async function getBill(ctx: ServiceCtx, id: string): Promise<BillView> {
  assertCan(ctx, "bills:read");
  return loadBillView(ctx.db, requireOrgId(ctx), id);
}

// ---- issue -------------------------------------------------------------------------------

function formatBillNumber(n: number): string {
  return `BILL-${String(n).padStart(6, "0")}`;
}

/**
 * Issues a draft inside `tx`: takes the stock of every product line, charges the customer within
 * their credit limit, then takes the next bill number. Any refusal throws and rolls all of it back.
 */
async function issueInTransaction(ctx: ServiceCtx, tx: Transaction, orgId: string, id: string): Promise<BillView> {
  // The row lock makes a second concurrent issue of the same bill wait and then see "issued".
  const bill = await getBillRow(tx, orgId, id, true);
  if (bill.status !== "draft") throw new Conflict(`Bill ${bill.number ?? id} is ${bill.status}; only a draft can be issued`);
  // Locks always go customer, then products in id order, then the number sequence: one order
  // for every issue, so two issues can wait on each other but never deadlock.
  const customer = bill.customerId ? await lockCustomerForCredit(tx, orgId, bill.customerId) : null;
  const items = await itemsOf(tx, id);
  const inner = withStockRights(ctx, tx);

  // Products are taken in id order, so two bills selling the same two products lock them in the
  // same order and cannot deadlock. moveStock's conditional UPDATE refuses to go below zero.
  const perProduct = new Map<string, { quantity: bigint; description: string }>();
  for (const item of items) {
    if (!item.productId) continue;
    const entry = perProduct.get(item.productId) ?? { quantity: 0n, description: item.description };
    entry.quantity += thousandths(quantityText(item.quantity));
    perProduct.set(item.productId, entry);
  }
  for (const productId of [...perProduct.keys()].sort()) {
    const entry = perProduct.get(productId);
    if (!entry) continue;
    const change = `-${entry.quantity / 1000n}.${String(entry.quantity % 1000n).padStart(3, "0")}`;
    try {
      await moveStock(inner, { productId, change, reason: "sale", note: `Bill ${id}` });
    } catch (error) {
      if (error instanceof Conflict) throw new Conflict(`Not enough stock of ${entry.description} (${productId}): ${error.detail ?? ""}`);
      throw error;
    }
  }

  if (bill.customerId && bill.total > 0) {
    const reference = { type: "bill", id };
    if (ctx.actor?.can("bills:override_credit")) {
      await recordCustomerLedgerEntry({ ...ctx, db: tx }, { customerId: bill.customerId, kind: "bill", amount: bill.total, reference });
    } else {
      await chargeWithinLimit({ ...ctx, db: tx }, { customerId: bill.customerId, amount: bill.total, reference });
    }
  }

  // Gap-free numbering: this upsert takes the organisation's sequence row lock until commit, so
  // concurrent issues of one organisation queue here and each reads the previous one's number.
  // A rolled-back issue rolls its increment back, so the number is handed out again. Taken last,
  // so the lock (which serialises all issues of the organisation) is held as briefly as possible.
  const [sequence] = await tx
    .insert(billNumberSequences)
    .values({ orgId, lastNumber: 1 })
    .onConflictDoUpdate({ target: billNumberSequences.orgId, set: { lastNumber: sql`${billNumberSequences.lastNumber} + 1` } })
    .returning({ lastNumber: billNumberSequences.lastNumber });
  if (!sequence) throw new Error("bill number sequence returned no row");
  const now = ctx.now();
  const [issued] = await tx
    .update(bills)
    .set({ status: "issued", number: formatBillNumber(sequence.lastNumber), issuedAt: now, updatedAt: now })
    .where(eq(bills.id, id))
    .returning();
  if (!issued) throw new Error("issued bill disappeared");
  await recordAudit(
    { ...ctx, db: tx },
    { orgId, action: "bill.issued", targetType: "bill", targetId: id, metadata: { number: issued.number, total: issued.total } },
  );
  // Credit the customer already had (a balance below zero, from a payment on account or a
  // voided bill) pays this bill first. It is already on the ledger, so no new entry is written.
  const credit = customer ? Math.min(Math.max(0, -customer.balance), issued.total) : 0;
  if (credit === 0) return billView(issued, items);
  await tx.insert(billPayments).values({ id: newId("bpy"), billId: id, orgId, amount: credit, method: "credit", reference: null, createdAt: now });
  const [paid] = await tx
    .update(bills)
    .set({ amountPaid: credit, status: credit >= issued.total ? "paid" : "partially_paid" })
    .where(eq(bills.id, id))
    .returning();
  if (!paid) throw new Error("issued bill disappeared");
  return billView(paid, items);
}

/** Issues a draft: numbers it, takes stock and charges the customer, all or nothing. */
export async function issueBill(ctx: ServiceCtx, id: string): Promise<BillView> {
  assertCan(ctx, "bills:write");
  const orgId = requireOrgId(ctx);
  return withTransaction(ctx, (tx) => issueInTransaction(ctx, tx, orgId, id));
}

// ---- payments ----------------------------------------------------------------------------

/**
 * Records a payment. The bill row is locked first (`SELECT ... FOR UPDATE`): concurrent payments
 * queue on it and each sees the amount the previous one left due, so together they can never pay
 * more than the total. A repeated Idempotency-Key returns the first payment unchanged.
 */
export async function recordBillPayment(
  ctx: ServiceCtx,
  id: string,
  input: CreatePaymentInput,
  idempotencyKey: string | undefined,
): Promise<{ payment: BillPaymentView; bill: BillView }> {
  assertCan(ctx, "bills:write");
  const orgId = requireOrgId(ctx);
  let receipt: ReceiptFacts | undefined;
  let result: { payment: BillPaymentView; bill: BillView };
  try {
    result = await withTransaction(ctx, async (tx) => {
      const bill = await getBillRow(tx, orgId, id, true);
      if (idempotencyKey) {
        // Read after the lock: a concurrent request with the same key has committed by now.
        const [existing] = await tx
          .select()
          .from(billPayments)
          .where(and(eq(billPayments.billId, id), eq(billPayments.idempotencyKey, idempotencyKey)));
        if (existing) {
          if (existing.amount !== input.amount || existing.method !== input.method) {
            throw new Conflict("This Idempotency-Key was used for a different payment; use a new key for a new payment");
          }
          return { payment: paymentView(existing), bill: billView(bill, await itemsOf(tx, id)) };
        }
      }
      if (bill.status !== "issued" && bill.status !== "partially_paid") {
        throw new Conflict(`Bill ${bill.number ?? id} is ${bill.status}; only an issued, unpaid bill takes payments`);
      }
      const due = bill.total - bill.amountPaid;
      let applied = input.amount;
      if (input.amount > due) {
        if (!input.excess_to_credit) throw new Conflict(`The payment of ${input.amount} is more than the balance due of ${due}`);
        if (!bill.customerId) throw new Conflict("Only a bill with a customer can keep an excess payment as credit");
        applied = due;
      }
      const now = ctx.now();
      const [payment] = await tx
        .insert(billPayments)
        .values({
          id: newId("bpy"),
          billId: id,
          orgId,
          amount: input.amount,
          method: input.method,
          reference: input.reference ?? null,
          idempotencyKey: idempotencyKey ?? null,
          createdBy: ctx.actor?.userId ?? null,
          createdAt: now,
        })
        .returning();
      if (!payment) throw new Error("payment insert returned no row");
      const amountPaid = bill.amountPaid + applied;
      const [updated] = await tx
        .update(bills)
        .set({ amountPaid, status: amountPaid >= bill.total ? "paid" : "partially_paid", updatedAt: now })
        .where(eq(bills.id, id))
        .returning();
      if (!updated) throw new Error("paid bill disappeared");
      if (bill.customerId) {
        // One entry for all the money received: any excess over the bill simply leaves the
        // customer's balance below zero, which is their credit for the next bill.
        await recordCustomerLedgerEntry(ledger(ctx, tx), {
          customerId: bill.customerId,
          kind: "payment",
          amount: -input.amount,
          reference: { type: "bill_payment", id: payment.id },
          note: input.amount > applied ? `Payment for ${bill.number}, ${input.amount - applied} kept as credit` : `Payment for ${bill.number}`,
        });
      }
      await recordAudit(ledger(ctx, tx), {
        orgId,
        action: "bill.payment_recorded",
        targetType: "bill",
        targetId: id,
        metadata: { payment_id: payment.id, amount: input.amount },
      });
      receipt = { orgId, billId: id, paymentId: payment.id, amount: input.amount, balanceDue: updated.total - updated.amountPaid };
      return { payment: paymentView(payment), bill: billView(updated, await itemsOf(tx, id)) };
    });
  } catch (error) {
    // Only reachable if the lock were bypassed; the unique index is the last word on a key.
    if (isUniqueViolation(error)) throw new Conflict("A payment with this Idempotency-Key is being recorded");
    throw error;
  }
  // After the commit, and only for a payment this request created: a replayed key sends nothing.
  // The payment stands even if its receipt cannot be queued.
  if (receipt) await sendPaymentReceipt(ctx, receipt).catch((error) => ctx.log.warn("payment receipt not sent", { bill_id: id, error }));
  return result;
}

// ---- void --------------------------------------------------------------------------------

/**
 * Voids an issued bill: its stock comes back (`return` movements) and its charge leaves the
 * customer's ledger. Payments already received stay on the ledger, so they become the
 * customer's credit. A paid bill is refunded, not voided.
 */
export async function voidBill(ctx: ServiceCtx, id: string): Promise<BillView> {
  assertCan(ctx, "bills:write");
  const orgId = requireOrgId(ctx);
  return withTransaction(ctx, async (tx) => {
    const bill = await getBillRow(tx, orgId, id, true);
    if (bill.status === "paid") throw new Conflict(`Bill ${bill.number} is paid; refund it instead`);
    if (bill.status !== "issued" && bill.status !== "partially_paid")
      throw new Conflict(`Bill ${bill.number ?? id} is ${bill.status}; only an issued bill can be voided`);
    // Same lock order as issuing (customer, then products), so a void and an issue never deadlock.
    if (bill.customerId) await lockCustomerForCredit(tx, orgId, bill.customerId);
    const items = await itemsOf(tx, id);
    const inner = withStockRights(ctx, tx);
    const productIds = [...new Set(items.flatMap((i) => (i.productId ? [i.productId] : [])))].sort();
    for (const productId of productIds) {
      const quantity = items.filter((i) => i.productId === productId).reduce((sum, i) => sum + thousandths(quantityText(i.quantity)), 0n);
      const change = `${quantity / 1000n}.${String(quantity % 1000n).padStart(3, "0")}`;
      await moveStock(inner, { productId, change, reason: "return", note: `Bill ${bill.number} voided` });
    }
    if (bill.customerId && bill.total > 0) {
      await recordCustomerLedgerEntry(ledger(ctx, tx), {
        customerId: bill.customerId,
        kind: "adjustment",
        amount: -bill.total,
        reference: { type: "bill", id },
        note: `Bill ${bill.number} voided`,
      });
    }
    const now = ctx.now();
    const [voided] = await tx.update(bills).set({ status: "void", voidedAt: now, updatedAt: now }).where(eq(bills.id, id)).returning();
    if (!voided) throw new Error("voided bill disappeared");
    await recordAudit(ledger(ctx, tx), { orgId, action: "bill.voided", targetType: "bill", targetId: id, metadata: { number: bill.number } });
    return billView(voided, items);
  });
}
