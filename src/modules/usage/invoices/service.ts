/**
 * Usage invoices: priced from a billing model version over a period, then draft → open (numbered)
 * → paid, or void. An invoice stores its lines and the model version it was priced with, so later
 * edits of the model never change it.
 */
import { and, asc, desc, eq, ilike, lt, ne, type SQL, sql } from "drizzle-orm";
import { type Database, type Transaction, withTransaction } from "../../../db/client";
import { auditEvents, invoiceLines, invoiceNumberSequences, invoices } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { AppError, Conflict, NotFound, Unprocessable } from "../../../lib/errors";
import { newId } from "../../../lib/ids";
import { type Page, toPage } from "../../../lib/pagination";
import { quantityText } from "../../../lib/quantity";
import { recordAudit } from "../../identity/audit/service";
import { assertCan, requireOrgId } from "../../identity/auth/principal";
import { loadOrg } from "../../identity/orgs/service";
import { queuePaymentReceipt } from "../../retail/bills/payment-receipts";
import { customerContact, getCustomerBalance } from "../../retail/customers/service";
import { type InvoicePeriod, parsePeriod } from "./period";
import { billingPlanModel, priceUsage, type UsageCharges } from "./pricing";
import type { CreateInvoiceInput, InvoiceLineView, InvoiceListInput, InvoiceSummaryView, InvoiceView, PayInvoiceInput } from "./schemas";

export type InvoiceRow = typeof invoices.$inferSelect;
type LineRow = typeof invoiceLines.$inferSelect;

function lineView(row: LineRow): InvoiceLineView {
  return {
    id: row.id,
    position: row.position,
    component: row.component,
    description: row.description,
    quantity: quantityText(row.quantity),
    unit_amount: row.unitAmount === null ? null : Number(row.unitAmount),
    amount: row.amount,
  };
}

export function invoiceSummaryView(row: InvoiceRow): InvoiceSummaryView {
  return {
    id: row.id,
    number: row.number,
    status: row.status,
    customer_id: row.customerId,
    model_id: row.modelId,
    model_version: row.modelVersion,
    period_start: row.periodStart,
    period_end: row.periodEnd,
    currency: row.currency,
    subtotal: row.subtotal,
    tax_rate_bps: row.taxRateBps,
    tax: row.tax,
    total: row.total,
    amount_paid: row.amountPaid,
    amount_due: row.status === "void" ? 0 : row.total - row.amountPaid,
    payment_method: row.paymentMethod,
    payment_reference: row.paymentReference,
    payment_url: row.status === "open" ? row.paymentUrl : null,
    issued_at: row.issuedAt?.toISOString() ?? null,
    paid_at: row.paidAt?.toISOString() ?? null,
    voided_at: row.voidedAt?.toISOString() ?? null,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

export function invoiceView(row: InvoiceRow, lines: LineRow[]): InvoiceView {
  return { ...invoiceSummaryView(row), lines: lines.map(lineView) };
}

export async function linesOf(db: Database | Transaction, invoiceId: string): Promise<LineRow[]> {
  return db.select().from(invoiceLines).where(eq(invoiceLines.invoiceId, invoiceId)).orderBy(asc(invoiceLines.position));
}

/** The invoice of the organisation, optionally locked until the transaction ends; else 404. */
export async function getInvoiceRow(db: Database | Transaction, orgId: string, id: string, lock = false): Promise<InvoiceRow> {
  const query = db
    .select()
    .from(invoices)
    .where(and(eq(invoices.id, id), eq(invoices.orgId, orgId)));
  const [row] = lock ? await query.for("update") : await query;
  if (!row) throw new NotFound("invoice", id);
  return row;
}

function label(row: Pick<InvoiceRow, "id" | "number">): string {
  return row.number ?? row.id;
}

// ---- create ------------------------------------------------------------------------------

export interface InvoiceDraft {
  customerId: string;
  modelId: string;
  period: InvoicePeriod;
  charges: UsageCharges;
  /** Who asked, for the audit trail: a request, or the monthly run. */
  source: "api" | "monthly_run";
}

export type InsertOutcome = { created: InvoiceRow; lines: LineRow[] } | { existing: InvoiceRow };

/**
 * Inserts a draft inside `tx`, unless a live (non-void) invoice of the same customer and model
 * already covers any day of the period.
 *
 * Races closed: two requests (or two monthly runs) invoicing one customer at once. A transaction
 * advisory lock on (org, customer, model) makes the second wait for the first to commit, so its
 * overlap check sees the first invoice. The partial unique index invoices_customer_period_key
 * stays the last word for identical periods (ON CONFLICT DO NOTHING).
 */
export async function insertDraft(ctx: ServiceCtx, tx: Transaction, orgId: string, draft: InvoiceDraft): Promise<InsertOutcome> {
  await tx.execute(sql`SELECT pg_advisory_xact_lock(hashtextextended(${`invoice:${orgId}:${draft.customerId}:${draft.modelId}`}, 0))`);
  const [overlapping] = await tx
    .select()
    .from(invoices)
    .where(
      and(
        eq(invoices.orgId, orgId),
        eq(invoices.customerId, draft.customerId),
        eq(invoices.modelId, draft.modelId),
        ne(invoices.status, "void"),
        lt(invoices.periodStart, draft.period.end),
        sql`${invoices.periodEnd} > ${draft.period.start}`,
      ),
    )
    .limit(1);
  if (overlapping) return { existing: overlapping };
  const { charges } = draft;
  const id = newId("ivc");
  const now = ctx.now();
  const [created] = await tx
    .insert(invoices)
    .values({
      id,
      orgId,
      customerId: draft.customerId,
      modelId: draft.modelId,
      modelVersion: charges.version,
      status: "draft",
      periodStart: draft.period.start,
      periodEnd: draft.period.end,
      currency: charges.currency,
      subtotal: charges.subtotal,
      taxRateBps: charges.tax_rate_bps,
      tax: charges.tax,
      total: charges.total,
      createdBy: ctx.actor?.userId ?? null,
      createdAt: now,
      updatedAt: now,
    })
    .onConflictDoNothing({
      target: [invoices.orgId, invoices.customerId, invoices.modelId, invoices.periodStart],
      where: sql`${invoices.status} <> 'void'`,
    })
    .returning();
  if (!created) {
    const [existing] = await tx
      .select()
      .from(invoices)
      .where(
        and(
          eq(invoices.orgId, orgId),
          eq(invoices.customerId, draft.customerId),
          eq(invoices.modelId, draft.modelId),
          eq(invoices.periodStart, draft.period.start),
          ne(invoices.status, "void"),
        ),
      );
    if (!existing) throw new Error("invoice insert conflicted but no live invoice was found");
    return { existing };
  }
  const lines =
    charges.lines.length === 0
      ? []
      : await tx
          .insert(invoiceLines)
          .values(
            charges.lines.map((line, index) => ({
              id: newId("ivl"),
              invoiceId: id,
              position: index + 1,
              component: line.component,
              description: line.description,
              quantity: line.quantity,
              unitAmount: line.unit_amount === null ? null : String(line.unit_amount),
              amount: line.amount,
            })),
          )
          .returning();
  await recordAudit(
    { ...ctx, db: tx },
    {
      orgId,
      action: "invoice.created",
      targetType: "invoice",
      targetId: id,
      metadata: { customer_id: draft.customerId, model_id: draft.modelId, model_version: charges.version, total: charges.total, source: draft.source },
    },
  );
  return { created, lines: lines.sort((a, b) => a.position - b.position) };
}

/** The customer exists in the organisation, else a 422 on `customer_id`. */
async function assertCustomer(ctx: ServiceCtx, customerId: string): Promise<void> {
  await getCustomerBalance(ctx, customerId).catch((error: unknown) => {
    if (error instanceof AppError && error.status === 404) {
      throw new Unprocessable([{ path: "customer_id", message: `No customer ${customerId} in this organisation` }]);
    }
    throw error;
  });
}

/**
 * Creates a draft invoice priced with the model's current version over the period. 409 when a
 * live invoice of the customer and model already covers part of the period.
 */
export async function createInvoice(ctx: ServiceCtx, input: CreateInvoiceInput): Promise<InvoiceView> {
  assertCan(ctx, "invoices:write");
  const orgId = requireOrgId(ctx);
  const period = parsePeriod(input.period);
  await assertCustomer(ctx, input.customer_id);
  const modelId = input.model_id ?? (await billingPlanModel(ctx, orgId, input.customer_id));
  if (!modelId) {
    throw new Unprocessable([{ path: "model_id", message: `Customer ${input.customer_id} has no billing plan; give model_id` }]);
  }
  const charges = await priceUsage(ctx, { modelId, customerId: input.customer_id, period });
  const outcome = await withTransaction(ctx, (tx) => insertDraft(ctx, tx, orgId, { customerId: input.customer_id, modelId, period, charges, source: "api" }));
  if ("existing" in outcome) {
    const existing = outcome.existing;
    throw new Conflict(
      `Invoice ${label(existing)} (${existing.status}, ${existing.periodStart} to ${existing.periodEnd}) already covers this period for this customer and model; cancel it first`,
    );
  }
  return invoiceView(outcome.created, outcome.lines);
}

// ---- read --------------------------------------------------------------------------------

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** Invoices of the organisation, newest first, without their lines. */
export async function listInvoices(ctx: ServiceCtx, query: InvoiceListInput): Promise<Page<InvoiceSummaryView>> {
  assertCan(ctx, "invoices:read");
  const orgId = requireOrgId(ctx);
  const filters: (SQL | undefined)[] = [eq(invoices.orgId, orgId)];
  if (query.cursor) filters.push(lt(invoices.id, query.cursor));
  if (query.status) filters.push(eq(invoices.status, query.status));
  if (query.customer_id) filters.push(eq(invoices.customerId, query.customer_id));
  if (query.q) filters.push(ilike(invoices.number, `%${escapeLike(query.q)}%`));
  const rows = await ctx.db
    .select()
    .from(invoices)
    .where(and(...filters))
    .orderBy(desc(invoices.id))
    .limit(query.limit + 1);
  return toPage(rows, query.limit, (r) => r.id, invoiceSummaryView);
}

export async function getInvoice(ctx: ServiceCtx, id: string): Promise<InvoiceView> {
  assertCan(ctx, "invoices:read");
  const orgId = requireOrgId(ctx);
  const row = await getInvoiceRow(ctx.db, orgId, id);
  return invoiceView(row, await linesOf(ctx.db, id));
}

// ---- finalize ----------------------------------------------------------------------------

function formatInvoiceNumber(n: number): string {
  return `INV-${String(n).padStart(6, "0")}`;
}

/**
 * Opens a draft inside `tx` and gives it the organisation's next number.
 *
 * Gap-free: the upsert takes the organisation's sequence row lock until commit, so concurrent
 * finalizes queue there and each reads the number the previous one left; a rolled-back finalize
 * rolls its increment back and the number is handed out again. Taken after the invoice's own
 * lock, last, so the organisation-wide lock is held as briefly as possible.
 */
export async function finalizeInTransaction(ctx: ServiceCtx, tx: Transaction, orgId: string, id: string): Promise<InvoiceRow> {
  // A second concurrent finalize of this invoice waits here and then sees "open".
  const invoice = await getInvoiceRow(tx, orgId, id, true);
  if (invoice.status !== "draft") throw new Conflict(`Invoice ${label(invoice)} is ${invoice.status}; only a draft can be finalized`);
  const [sequence] = await tx
    .insert(invoiceNumberSequences)
    .values({ orgId, lastNumber: 1 })
    .onConflictDoUpdate({ target: invoiceNumberSequences.orgId, set: { lastNumber: sql`${invoiceNumberSequences.lastNumber} + 1` } })
    .returning({ lastNumber: invoiceNumberSequences.lastNumber });
  if (!sequence) throw new Error("invoice number sequence returned no row");
  const now = ctx.now();
  const [opened] = await tx
    .update(invoices)
    .set({ status: "open", number: formatInvoiceNumber(sequence.lastNumber), issuedAt: now, updatedAt: now })
    .where(eq(invoices.id, id))
    .returning();
  if (!opened) throw new Error("finalized invoice disappeared");
  await recordAudit(
    { ...ctx, db: tx },
    { orgId, action: "invoice.finalized", targetType: "invoice", targetId: id, metadata: { number: opened.number, total: opened.total } },
  );
  return opened;
}

/** Draft → open with the next gap-free number `INV-000001`. */
export async function finalizeInvoice(ctx: ServiceCtx, id: string): Promise<InvoiceView> {
  assertCan(ctx, "invoices:write");
  const orgId = requireOrgId(ctx);
  const opened = await withTransaction(ctx, (tx) => finalizeInTransaction(ctx, tx, orgId, id));
  return invoiceView(opened, await linesOf(ctx.db, id));
}

// ---- cancel ------------------------------------------------------------------------------

/**
 * Draft or open → void. The number of a void invoice stays used (the sequence never goes back
 * for a committed invoice), and its period is free for a new invoice. Paid invoices stay paid.
 */
export async function cancelInvoice(ctx: ServiceCtx, id: string): Promise<InvoiceView> {
  assertCan(ctx, "invoices:write");
  const orgId = requireOrgId(ctx);
  return withTransaction(ctx, async (tx) => {
    const invoice = await getInvoiceRow(tx, orgId, id, true);
    if (invoice.status === "paid") throw new Conflict(`Invoice ${label(invoice)} is paid and cannot be cancelled`);
    if (invoice.status === "void") throw new Conflict(`Invoice ${label(invoice)} is already void`);
    const now = ctx.now();
    const [voided] = await tx.update(invoices).set({ status: "void", voidedAt: now, updatedAt: now }).where(eq(invoices.id, id)).returning();
    if (!voided) throw new Error("voided invoice disappeared");
    await recordAudit({ ...ctx, db: tx }, { orgId, action: "invoice.voided", targetType: "invoice", targetId: id, metadata: { number: invoice.number } });
    return invoiceView(voided, await linesOf(tx, id));
  });
}

// ---- manual payment ----------------------------------------------------------------------

/**
 * Marks an open invoice paid in full, received by hand. An invoice is paid once: paying it again
 * is a 409, unless the request repeats the Idempotency-Key of the payment that paid it, which
 * answers the paid invoice again. The key is kept in that payment's audit event (the invoice has
 * no column for it); the row lock makes a concurrent repeat read it after the first commits.
 */
export async function recordManualPayment(
  ctx: ServiceCtx,
  id: string,
  input: PayInvoiceInput & { method: Exclude<PayInvoiceInput["method"], "stripe"> },
  idempotencyKey: string | undefined,
): Promise<InvoiceView> {
  assertCan(ctx, "invoices:write");
  const orgId = requireOrgId(ctx);
  let receipt: { invoice: InvoiceRow; amount: number } | undefined;
  const view = await withTransaction(ctx, async (tx) => {
    const invoice = await getInvoiceRow(tx, orgId, id, true);
    if (invoice.status === "paid") {
      if (idempotencyKey && (await paidWithKey(tx, orgId, id, idempotencyKey))) return invoiceView(invoice, await linesOf(tx, id));
      throw new Conflict(`Invoice ${label(invoice)} is already paid`);
    }
    if (invoice.status !== "open") throw new Conflict(`Invoice ${label(invoice)} is ${invoice.status}; only an open invoice can be paid`);
    const now = ctx.now();
    const [paid] = await tx
      .update(invoices)
      .set({
        status: "paid",
        amountPaid: invoice.total,
        paymentMethod: input.method,
        paymentReference: input.reference ?? null,
        paidAt: now,
        updatedAt: now,
      })
      .where(eq(invoices.id, id))
      .returning();
    if (!paid) throw new Error("paid invoice disappeared");
    await recordAudit(
      { ...ctx, db: tx },
      {
        orgId,
        action: "invoice.paid",
        targetType: "invoice",
        targetId: id,
        metadata: { method: input.method, amount: invoice.total, ...(idempotencyKey ? { idempotency_key: idempotencyKey } : {}) },
      },
    );
    receipt = { invoice: paid, amount: invoice.total - invoice.amountPaid };
    return invoiceView(paid, await linesOf(tx, id));
  });
  // After the commit, and only for the request that paid it: a replayed key sends nothing.
  if (receipt) await sendInvoicePaymentReceipt(ctx, receipt.invoice, receipt.amount);
  return view;
}

/**
 * Queues the customer's receipt for the payment of `amount` that just paid `invoice` in full.
 * An invoice is paid once, so the invoice is the payment. It has no public page, so the receipt
 * carries no link. Never throws: the payment stands even if its receipt cannot be queued.
 */
export async function sendInvoicePaymentReceipt(ctx: ServiceCtx, invoice: InvoiceRow, amount: number): Promise<void> {
  try {
    const customer = await customerContact(ctx, invoice.orgId, invoice.customerId);
    const { name: orgName } = await loadOrg(ctx.db, invoice.orgId, null);
    await queuePaymentReceipt(ctx, {
      orgId: invoice.orgId,
      orgName,
      document: { noun: "invoice", number: invoice.number, currency: invoice.currency },
      customer,
      payment: { type: "invoice_payment", id: invoice.id },
      amount,
      balanceDue: invoice.total - invoice.amountPaid,
    });
  } catch (error) {
    ctx.log.warn("invoice payment receipt not sent", { invoice_id: invoice.id, error });
  }
}

async function paidWithKey(tx: Transaction, orgId: string, invoiceId: string, key: string): Promise<boolean> {
  const [row] = await tx
    .select({ id: auditEvents.id })
    .from(auditEvents)
    .where(
      and(
        eq(auditEvents.orgId, orgId),
        eq(auditEvents.action, "invoice.paid"),
        eq(auditEvents.targetId, invoiceId),
        sql`${auditEvents.metadata}->>'idempotency_key' = ${key}`,
      ),
    )
    .limit(1);
  return Boolean(row);
}
