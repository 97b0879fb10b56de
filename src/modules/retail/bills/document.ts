import { and, asc, eq } from "drizzle-orm";
import type { Database, Transaction } from "../../../db/client";
import type { BillStatus } from "../../../db/schema";
import { billItems, bills, customers, organizations } from "../../../db/schema";
import { quantityText } from "../../../lib/quantity";

/** One line of a bill as its documents print it. */
export interface BillDocumentLine {
  description: string;
  quantity: string;
  unit: string;
  unitPrice: number;
  discount: number;
  taxRateBps: number;
  lineTotal: number;
}

/**
 * Everything the bill's message, HTML page and PDF show, read in one place. Money is in minor
 * units of `currency`; the customer's contact details decide where the bill can be sent.
 */
export interface BillDocument {
  /** What the document is called on the page: bills, and usage invoices drawn the same way. */
  noun?: "Bill" | "Invoice";
  id: string;
  orgId: string;
  orgName: string;
  number: string | null;
  status: BillStatus;
  currency: string;
  issuedAt: Date | null;
  dueDate: string | null;
  notes: string | null;
  customer: { id: string; name: string; email: string | null; phone: string | null } | null;
  subtotal: number;
  discount: number;
  tax: number;
  total: number;
  amountPaid: number;
  balanceDue: number;
  linkVersion: number;
  lines: BillDocumentLine[];
  /** The organisation's bill footer (settings `bills.footer`), printed below everything else. */
  footer?: string | null;
}

/**
 * The bill `billId` of organisation `orgId` with its organisation, customer and lines, or null.
 * A read of its own rather than the bills service's: the public link has no actor to check, and
 * the customer's contact details are not part of the bill's API shape.
 */
export async function loadBillDocument(db: Database | Transaction, orgId: string, billId: string): Promise<BillDocument | null> {
  const [row] = await db
    .select({
      bill: bills,
      orgName: organizations.name,
      orgSettings: organizations.settings,
      customer: { id: customers.id, name: customers.name, email: customers.email, phone: customers.phone },
    })
    .from(bills)
    .innerJoin(organizations, eq(organizations.id, bills.orgId))
    .leftJoin(customers, and(eq(customers.id, bills.customerId), eq(customers.orgId, bills.orgId)))
    .where(and(eq(bills.id, billId), eq(bills.orgId, orgId)));
  if (!row) return null;
  const items = await db.select().from(billItems).where(eq(billItems.billId, billId)).orderBy(asc(billItems.position));
  const { bill } = row;
  return {
    id: bill.id,
    orgId: bill.orgId,
    orgName: row.orgName,
    number: bill.number,
    status: bill.status,
    currency: bill.currency,
    issuedAt: bill.issuedAt,
    dueDate: bill.dueDate,
    notes: bill.notes,
    customer: row.customer,
    subtotal: bill.subtotal,
    discount: bill.discount,
    tax: bill.tax,
    total: bill.total,
    amountPaid: bill.amountPaid,
    // Same rule as the bill's API view: nothing is due on a void bill.
    balanceDue: bill.status === "void" ? 0 : bill.total - bill.amountPaid,
    linkVersion: bill.linkVersion,
    lines: items.map((item) => ({
      description: item.description,
      quantity: quantityText(item.quantity),
      unit: item.unit,
      unitPrice: item.unitPrice,
      discount: item.discount,
      taxRateBps: item.taxRateBps,
      lineTotal: item.lineTotal,
    })),
    // Read from the settings jsonb here because this read joins the organisation already.
    footer: row.orgSettings.bills?.footer ?? null,
  };
}
