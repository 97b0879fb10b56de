import { z } from "@hono/zod-openapi";
import { INVOICE_STATUSES } from "../../../db/schema";
import { pathId } from "../../../lib/openapi";
import { pageQuery, pageSchema } from "../../../lib/pagination";

const INVOICE_ID_EXAMPLE = "ivc_01JD3X6W6X8Q3M1B0V4T2Y9ZKA";
const LINE_ID_EXAMPLE = "ivl_01JD3X6W6X8Q3M1B0V4T2Y9ZKB";
const CUSTOMER_ID_EXAMPLE = "cus_01JD3X6W6X8Q3M1B0V4T2Y9ZKC";
const MODEL_ID_EXAMPLE = "bmd_01JD3X6W6X8Q3M1B0V4T2Y9ZKD";

/** Payment methods a person records by hand; `stripe` instead sends the customer a Checkout link. */
export const MANUAL_PAYMENT_METHODS = ["cash", "card", "bank", "upi", "other"] as const;

const Money = (description: string, example: number) =>
  z
    .number()
    .int()
    .openapi({ description: `${description}, in minor units of \`currency\``, example });

const Day = (description: string, example: string) => z.string().date().openapi({ description, example });

const Month = z
  .string()
  .regex(/^\d{4}-(0[1-9]|1[0-2])$/, "A month is YYYY-MM")
  .openapi({ description: "A calendar month, YYYY-MM (UTC)", example: "2026-05" });

export const PeriodRange = z
  .object({
    from: Day("First day of the period (UTC), YYYY-MM-DD", "2026-05-01"),
    to: Day("The day AFTER the last day of the period (exclusive), YYYY-MM-DD", "2026-06-01"),
  })
  .openapi("InvoicePeriodRange");

export const CreateInvoiceBody = z
  .object({
    customer_id: z.string().max(100).openapi({ description: "The organisation's customer to invoice", example: CUSTOMER_ID_EXAMPLE }),
    model_id: z
      .string()
      .max(100)
      .optional()
      .openapi({ description: "The billing model to price with (default: the customer's billing plan)", example: MODEL_ID_EXAMPLE }),
    period: z.union([Month, PeriodRange]).openapi({ description: "A month `YYYY-MM`, or `{from, to}` days with `to` exclusive", example: "2026-05" }),
  })
  .openapi("CreateInvoiceRequest");

export const InvoiceLine = z
  .object({
    id: z.string().openapi({ description: "Line id", example: LINE_ID_EXAMPLE }),
    position: z.number().int().openapi({ description: "Position on the invoice, from 1", example: 1 }),
    component: z.string().openapi({
      description: "What priced it: base_fee, seat, activity, outcome, cost_plus or minimum_commitment",
      example: "activity",
    }),
    description: z.string().openapi({ description: "What the line charges for", example: "message_sent: 1200.000 units, 100 free, tier 1" }),
    quantity: z.string().openapi({ description: "Quantity with exactly 3 decimals", example: "1100.000" }),
    unit_amount: z
      .number()
      .nullable()
      .openapi({ description: "Price per unit in minor units (up to 4 decimals); null for lines not priced per unit", example: 2.5 }),
    amount: Money("The line's amount", 2750),
  })
  .openapi("InvoiceLine");

const invoiceFields = {
  id: z.string().openapi({ description: "Invoice id", example: INVOICE_ID_EXAMPLE }),
  number: z.string().nullable().openapi({ description: "`INV-000001`, gap-free per organisation; null while a draft", example: "INV-000001" }),
  status: z.enum(INVOICE_STATUSES).openapi({ description: "draft → open (finalized) → paid, or void (cancelled)", example: "open" }),
  customer_id: z.string().openapi({ description: "The customer invoiced", example: CUSTOMER_ID_EXAMPLE }),
  model_id: z.string().openapi({ description: "The billing model it was priced with", example: MODEL_ID_EXAMPLE }),
  model_version: z
    .number()
    .int()
    .openapi({ description: "The model version whose terms priced it; later edits of the model do not change the invoice", example: 2 }),
  period_start: z.string().openapi({ description: "First day of the period (UTC)", example: "2026-05-01" }),
  period_end: z.string().openapi({ description: "The day after the period's last day (exclusive)", example: "2026-06-01" }),
  currency: z.string().openapi({ description: "ISO 4217 currency of the amounts, the model's", example: "USD" }),
  subtotal: Money("Sum of the lines", 12000),
  tax_rate_bps: z.number().int().openapi({ description: "Tax rate in basis points (1800 = 18%)", example: 1800 }),
  tax: Money("round_half_up(subtotal × tax_rate_bps / 10000)", 2160),
  total: Money("subtotal + tax", 14160),
  amount_paid: Money("Paid so far (the total once paid)", 0),
  amount_due: Money("total − amount_paid while open; 0 for a void invoice", 14160),
  payment_method: z.string().nullable().openapi({ description: "How it was paid (cash, card, bank, upi, other, stripe)", example: null }),
  payment_reference: z.string().nullable().openapi({ description: "Receipt or transfer reference, or the Stripe payment id", example: null }),
  payment_url: z
    .string()
    .nullable()
    .openapi({ description: "Stripe Checkout page where the customer pays, once asked for", example: "https://checkout.stripe.com/c/pay/cs_test_a1b2" }),
  issued_at: z.string().nullable().openapi({ description: "When it was finalized", example: "2026-06-01T02:00:00.000Z" }),
  paid_at: z.string().nullable().openapi({ description: "When it was paid", example: null }),
  voided_at: z.string().nullable().openapi({ description: "When it was cancelled", example: null }),
  created_at: z.string().openapi({ description: "When it was created", example: "2026-06-01T02:00:00.000Z" }),
  updated_at: z.string().openapi({ description: "When it last changed", example: "2026-06-01T02:00:00.000Z" }),
};

export const InvoiceSummary = z.object(invoiceFields).openapi("InvoiceSummary");

export const Invoice = z
  .object({ ...invoiceFields, lines: z.array(InvoiceLine).openapi({ description: "The lines, in position order", example: [] }) })
  .openapi("Invoice");

export const InvoiceList = pageSchema(InvoiceSummary, "InvoiceList", {
  data: "Invoices, newest first (without lines; read one invoice for them)",
  nextCursor: "Pass as `cursor` for the next (older) page; null on the last page",
});

export const InvoiceListQuery = pageQuery({ defaultLimit: 50, cursorExample: INVOICE_ID_EXAMPLE }).extend({
  status: z.enum(INVOICE_STATUSES).optional().openapi({ description: "Only invoices in this status", example: "open" }),
  customer_id: z.string().max(100).optional().openapi({ description: "Only invoices of this customer", example: CUSTOMER_ID_EXAMPLE }),
  q: z.string().trim().min(1).max(100).optional().openapi({ description: "Text in the invoice number", example: "INV-00001" }),
});

export const InvoiceIdParam = z.object({
  id: pathId("id", "ivc", "Invoice id", INVOICE_ID_EXAMPLE),
});

export const PayInvoiceBody = z
  .object({
    method: z.enum([...MANUAL_PAYMENT_METHODS, "stripe"]).openapi({
      description: "A payment received by hand (cash, card, bank, upi, other), or `stripe` for a Checkout link the customer pays through",
      example: "bank",
    }),
    reference: z
      .string()
      .trim()
      .min(1)
      .max(200)
      .optional()
      .openapi({ description: "Receipt or transfer reference of a manual payment", example: "NEFT-2026-0612" }),
  })
  .refine((body) => body.method !== "stripe" || body.reference === undefined, {
    message: "A Stripe payment takes its reference from Stripe",
    path: ["reference"],
  })
  .openapi("PayInvoiceRequest");

export const DocumentQuery = z.object({
  format: z.enum(["html", "pdf"]).default("html").openapi({ description: "`html` for a web page, `pdf` for a PDF document", example: "html" }),
});

export const MonthlyRunBody = z
  .object({
    period: Month,
    finalize: z.boolean().default(true).openapi({ description: "Finalize (number and open) each new invoice; false leaves drafts to review", example: true }),
  })
  .openapi("MonthlyInvoicingRequest");

export const MonthlyRunResult = z
  .object({
    created: z.array(z.string()).openapi({ description: "Ids of the invoices this run created", example: [INVOICE_ID_EXAMPLE] }),
    skipped: z
      .array(
        z.object({
          customer_id: z.string().openapi({ description: "A customer with a billing plan that got no new invoice", example: CUSTOMER_ID_EXAMPLE }),
          reason: z.string().openapi({ description: "Why: `already invoiced`, or what stopped the invoice", example: "already invoiced" }),
        }),
      )
      .openapi({ description: "Customers with a billing plan not invoiced by this run", example: [] }),
  })
  .openapi("MonthlyInvoicingResult");

export type CreateInvoiceInput = z.infer<typeof CreateInvoiceBody>;
export type InvoiceView = z.infer<typeof Invoice>;
export type InvoiceSummaryView = z.infer<typeof InvoiceSummary>;
export type InvoiceLineView = z.infer<typeof InvoiceLine>;
export type InvoiceListInput = z.infer<typeof InvoiceListQuery>;
export type PayInvoiceInput = z.infer<typeof PayInvoiceBody>;
export type MonthlyRunInput = z.infer<typeof MonthlyRunBody>;
export type MonthlyRunView = z.infer<typeof MonthlyRunResult>;
