/**
 * An invoice as a page or a PDF, drawn by the bills renderers: an invoice is read as a bill
 * document whose lines are the usage lines, so both kinds of document look and escape alike.
 */
import { and, eq } from "drizzle-orm";
import { customers, type INVOICE_STATUSES } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { assertCan, requireOrgId } from "../../identity/auth/principal";
import { loadOrg } from "../../identity/orgs/service";
import type { BillDocument } from "../../retail/bills/document";
import { billPageCsp, renderBillHtml } from "../../retail/bills/render-html";
import { getInvoiceRow, type InvoiceRow, linesOf } from "./service";

/** How each invoice status reads on a bill document ("open" is what bills call issued: unpaid). */
const DOCUMENT_STATUS: Record<(typeof INVOICE_STATUSES)[number], BillDocument["status"]> = { draft: "draft", open: "issued", paid: "paid", void: "void" };

const UNITS: Record<string, string> = { seat: "seats", activity: "units", outcome: "outcomes" };

function asBillDocument(invoice: InvoiceRow, orgName: string, customer: BillDocument["customer"], lines: Awaited<ReturnType<typeof linesOf>>): BillDocument {
  return {
    id: invoice.id,
    orgId: invoice.orgId,
    orgName,
    number: invoice.number,
    noun: "Invoice",
    status: DOCUMENT_STATUS[invoice.status],
    currency: invoice.currency,
    issuedAt: invoice.issuedAt,
    dueDate: null,
    notes: `Usage from ${invoice.periodStart} to ${invoice.periodEnd} (end exclusive), billing model version ${invoice.modelVersion}.`,
    customer,
    subtotal: invoice.subtotal,
    discount: 0,
    tax: invoice.tax,
    total: invoice.total,
    amountPaid: invoice.amountPaid,
    balanceDue: invoice.status === "void" ? 0 : invoice.total - invoice.amountPaid,
    linkVersion: 1,
    lines: lines.map((line) => {
      // Lines not priced per unit (a share of outcome value, costs plus markup, a minimum) print
      // as one of their amount; their description says how it was reached.
      const perUnit = line.unitAmount !== null;
      return {
        description: line.description,
        quantity: perUnit ? line.quantity : "1.000",
        unit: perUnit ? (UNITS[line.component] ?? "") : "",
        unitPrice: perUnit ? Number(line.unitAmount) : line.amount,
        discount: 0,
        taxRateBps: invoice.taxRateBps,
        lineTotal: line.amount,
      };
    }),
  };
}

async function loadInvoiceDocument(ctx: ServiceCtx, id: string): Promise<BillDocument> {
  assertCan(ctx, "invoices:read");
  const orgId = requireOrgId(ctx);
  const invoice = await getInvoiceRow(ctx.db, orgId, id);
  // The customer's name is read directly, as the bill documents do: it belongs on the invoice for
  // anyone who may read invoices, who may not hold customers:read.
  const [[customer], org, lines] = await Promise.all([
    ctx.db
      .select({ id: customers.id, name: customers.name, email: customers.email, phone: customers.phone })
      .from(customers)
      .where(and(eq(customers.id, invoice.customerId), eq(customers.orgId, orgId))),
    loadOrg(ctx.db, orgId, null),
    linesOf(ctx.db, id),
  ]);
  return asBillDocument(invoice, org.name, customer ?? null, lines);
}

export interface RenderedDocument {
  body: string | Uint8Array<ArrayBuffer>;
  headers: Record<string, string>;
}

/** The invoice as a self-contained HTML page (with its Content-Security-Policy) or a PDF. */
export async function renderInvoiceDocument(ctx: ServiceCtx, id: string, format: "html" | "pdf"): Promise<RenderedDocument> {
  const document = await loadInvoiceDocument(ctx, id);
  const privateCopy = { "Cache-Control": "private, no-store" };
  if (format === "pdf") {
    const filename = `${(document.number ?? `invoice-${document.id}`).replace(/[^\w-]/g, "_")}.pdf`;
    // pdf-lib loads with the first PDF, not with every cold isolate.
    const { renderBillPdf } = await import("../../retail/bills/render-pdf");
    return {
      body: await renderBillPdf(document),
      headers: { ...privateCopy, "Content-Type": "application/pdf", "Content-Disposition": `inline; filename="${filename}"` },
    };
  }
  return {
    body: renderBillHtml(document),
    headers: { ...privateCopy, "Content-Type": "text/html; charset=utf-8", "Content-Security-Policy": await billPageCsp() },
  };
}
