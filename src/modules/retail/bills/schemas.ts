import { z } from "@hono/zod-openapi";
import { BILL_PAYMENT_METHODS, BILL_PAYMENT_SOURCES, BILL_STATUSES, type BillPaymentMethod, type BillStatus } from "../../../db/schema";
import { idString, pathId } from "../../../lib/openapi";
import { pageQuery, pageSchema } from "../../../lib/pagination";

const BILL_ID_EXAMPLE = "bill_01JD3X6W6X8Q3M1B0V4T2Y9ZKA";
const ITEM_ID_EXAMPLE = "bli_01JD3X6W6X8Q3M1B0V4T2Y9ZKB";
const PAYMENT_ID_EXAMPLE = "bpy_01JD3X6W6X8Q3M1B0V4T2Y9ZKC";
const PRODUCT_ID_EXAMPLE = "prod_01JD3X6W6X8Q3M1B0V4T2Y9ZKD";
const CUSTOMER_ID_EXAMPLE = "cus_01JD3X6W6X8Q3M1B0V4T2Y9ZKE";

/** Shown once in the OpenAPI document; src/modules/retail/bills/money.ts implements it. */
export const MONEY_RULE =
  "Totals are computed by the server. Per line: gross = round_half_up(quantity × unit_price) in minor units; " +
  "net = gross − line discount. Tax-exclusive prices (default): line_subtotal = net, " +
  "line_tax = round_half_up(net × tax_rate_bps / 10000), line_total = line_subtotal + line_tax. " +
  "Tax-inclusive prices (organisation setting prices_include_tax): line_tax = round_half_up(net × tax_rate_bps / (10000 + tax_rate_bps)), " +
  "line_subtotal = net − line_tax, line_total = net. Per bill: subtotal = Σ line_subtotal, tax = Σ line_tax, " +
  "total = subtotal − discount + tax, where the bill-level discount reduces the total only and does not change line taxes.";

const Money = (description: string, example: number) =>
  z
    .number()
    .int()
    .openapi({ description: `${description}, in minor units of \`currency\``, example });
const MoneyInput = (description: string, example: number) =>
  z
    .number()
    .int()
    .min(0)
    .max(1_000_000_000_000)
    .openapi({ description: `${description}, in minor units`, example });

const QUANTITY = /^\d{1,11}(\.\d{1,3})?$/;

/** A positive quantity as a number or decimal string, kept as a string so no float touches it. */
const QuantityInput = z
  .union([z.number().finite(), z.string().trim()])
  .transform((value, ctx) => {
    const text = typeof value === "number" ? String(value) : value;
    if (!QUANTITY.test(text) || /^0+(\.0+)?$/.test(text)) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: "A positive decimal with at most 11 digits before the point and 3 after" });
      return z.NEVER;
    }
    return text;
  })
  .openapi({ description: "Quantity, a number or a decimal string, at most 3 decimals", example: "2.500" });

export const BillItemInput = z
  .object({
    product_id: z
      .string()
      .max(100)
      .optional()
      .openapi({ description: "A product of the organisation: name, unit, price and tax rate come from it", example: PRODUCT_ID_EXAMPLE }),
    description: z
      .string()
      .trim()
      .min(1)
      .max(500)
      .optional()
      .openapi({ description: "What the line is; required without product_id, overrides the product's name", example: "Delivery" }),
    quantity: QuantityInput,
    unit: z.string().trim().min(1).max(20).optional().openapi({ description: "Unit of a line without a product (default `piece`)", example: "piece" }),
    unit_price: MoneyInput("Price per unit; required without product_id, overrides the product's price", 500).optional(),
    discount: MoneyInput("Discount on this line, at most its gross amount", 0).optional(),
    tax_rate_bps: z
      .number()
      .int()
      .min(0)
      .max(10_000)
      .optional()
      .openapi({ description: "Tax rate in basis points for a line without a product (default 0)", example: 0 }),
  })
  .openapi("BillItemInput");

export const CreateBillBody = z
  .object({
    customer_id: idString("cus").nullable().optional().openapi({ description: "The customer billed, or none for a walk-in sale", example: null }),
    items: z
      .array(BillItemInput)
      .min(1)
      .max(500)
      .openapi({ description: "The lines, in order", example: [{ description: "Delivery", quantity: "1", unit_price: 500 }] }),
    discount: MoneyInput("Bill-level discount, at most the subtotal; it reduces the total and leaves line taxes unchanged", 0).optional(),
    due_date: z.string().date().nullable().optional().openapi({ description: "When payment is due (YYYY-MM-DD)", example: "2026-06-30" }),
    notes: z.string().max(2000).nullable().optional().openapi({ description: "Free text printed on the bill", example: "Thank you!" }),
    issue: z.boolean().optional().openapi({ description: "Issue the bill in the same call (numbers it, takes stock, charges the customer)", example: false }),
  })
  .openapi("CreateBillRequest", { description: MONEY_RULE });

export const BillItem = z
  .object({
    id: z.string().openapi({ description: "Line id", example: ITEM_ID_EXAMPLE }),
    position: z.number().int().openapi({ description: "Position on the bill, from 1", example: 1 }),
    product_id: z.string().nullable().openapi({ description: "The product sold, or null for a free line", example: PRODUCT_ID_EXAMPLE }),
    description: z.string().openapi({ description: "What the line is", example: "Arabica beans 1kg" }),
    quantity: z.string().openapi({ description: "Quantity with exactly 3 decimals", example: "2.500" }),
    unit: z.string().openapi({ description: "How the quantity is counted", example: "kg" }),
    unit_price: Money("Price per unit", 1850),
    discount: Money("Discount on this line", 0),
    tax_rate_bps: z.number().int().openapi({ description: "Tax rate in basis points (1800 = 18%)", example: 1800 }),
    line_subtotal: Money("The line's amount before tax (see the bill's money rule)", 4625),
    line_tax: Money("The line's tax (see the bill's money rule)", 833),
    line_total: Money("line_subtotal + line_tax", 5458),
  })
  .openapi("BillItem");

export const Bill = z
  .object({
    id: z.string().openapi({ description: "Bill id", example: BILL_ID_EXAMPLE }),
    number: z.string().nullable().openapi({ description: "`BILL-000001`, gap-free per organisation; null while a draft", example: "BILL-000001" }),
    status: z.enum(BILL_STATUSES).openapi({ description: "draft, issued, partially_paid, paid, refunded (fully) or void", example: "issued" }),
    customer_id: z.string().nullable().openapi({ description: "The customer billed, or null", example: CUSTOMER_ID_EXAMPLE }),
    currency: z.string().openapi({ description: "ISO 4217 currency of the amounts", example: "USD" }),
    subtotal: Money("Sum of line subtotals", 4625),
    discount: Money("Bill-level discount", 0),
    tax: Money("Sum of line taxes", 833),
    total: Money("subtotal − discount + tax", 5458),
    amount_paid: Money("Paid so far", 0),
    amount_refunded: Money("Given back so far (refunds of a paid bill)", 0),
    balance_due: Money("total − amount_paid (0 once void)", 5458),
    prices_include_tax: z
      .boolean()
      .openapi({ description: "Whether unit prices included tax when the bill was priced (the organisation's setting then)", example: false }),
    due_date: z.string().nullable().openapi({ description: "When payment is due (YYYY-MM-DD), or null", example: "2026-06-30" }),
    notes: z.string().nullable().openapi({ description: "Free text printed on the bill", example: "Thank you!" }),
    issued_at: z.string().nullable().openapi({ description: "When the bill was issued", example: "2026-05-01T12:00:00.000Z" }),
    voided_at: z.string().nullable().openapi({ description: "When the bill was voided", example: null }),
    created_at: z.string().openapi({ description: "When the bill was created", example: "2026-05-01T12:00:00.000Z" }),
    updated_at: z.string().openapi({ description: "When the bill last changed", example: "2026-05-01T12:00:00.000Z" }),
    items: z.array(BillItem).openapi({ description: "The lines, in position order", example: [] }),
  })
  .openapi("Bill", { description: MONEY_RULE });

export const BillList = pageSchema(Bill, "BillList", {
  data: "Bills, newest first",
  nextCursor: "Pass as `cursor` for the next (older) page; null on the last page",
});

export const BillListQuery = pageQuery({ defaultLimit: 50, cursorExample: BILL_ID_EXAMPLE }).extend({
  status: z.enum(BILL_STATUSES).optional().openapi({ description: "Only bills in this status", example: "issued" }),
  customer_id: idString("cus").optional().openapi({ description: "Only bills of this customer", example: CUSTOMER_ID_EXAMPLE }),
  q: z.string().trim().min(1).max(100).optional().openapi({ description: "Text in the bill number or notes", example: "BILL-0000" }),
});

export const BillIdParam = z.object({
  id: pathId("id", "bill", "Bill id", BILL_ID_EXAMPLE),
});

export const CreatePaymentBody = z
  .object({
    amount: z.number().int().min(1).max(1_000_000_000_000).openapi({ description: "Amount received, in minor units", example: 2000 }),
    method: z.enum(BILL_PAYMENT_METHODS).openapi({ description: "How it was paid", example: "cash" }),
    reference: z
      .string()
      .trim()
      .min(1)
      .max(200)
      .nullable()
      .optional()
      .openapi({ description: "Receipt, card slip or transfer reference", example: "UPI-123456" }),
    excess_to_credit: z
      .boolean()
      .optional()
      .openapi({ description: "Keep any amount above the balance due as credit on the customer's ledger instead of refusing", example: false }),
  })
  .openapi("CreateBillPaymentRequest");

export const BillPayment = z
  .object({
    id: z.string().openapi({ description: "Payment id", example: PAYMENT_ID_EXAMPLE }),
    bill_id: z.string().openapi({ description: "The bill paid", example: BILL_ID_EXAMPLE }),
    amount: Money("Amount received (any excess over the balance due went to the customer's credit)", 2000),
    method: z
      .enum(BILL_PAYMENT_SOURCES)
      .openapi({ description: "How it was paid; `credit` is the customer's credit on account applied when the bill was issued", example: "cash" }),
    reference: z.string().nullable().openapi({ description: "Receipt, card slip or transfer reference", example: "UPI-123456" }),
    customer_payment_id: z
      .string()
      .nullable()
      .openapi({ description: "The payment on account this was allocated from, if any", example: "cpy_01JD3X6W6X8Q3M1B0V4T2Y9ZKF" }),
    created_at: z.string().openapi({ description: "When the payment was recorded", example: "2026-05-01T12:00:00.000Z" }),
  })
  .openapi("BillPayment");

export const PaymentResult = z
  .object({
    payment: BillPayment,
    bill: Bill,
  })
  .openapi("BillPaymentResult");

export const CreateRefundBody = z
  .object({
    amount: z.number().int().min(1).max(1_000_000_000_000).openapi({ description: "Amount given back, in minor units", example: 1500 }),
    method: z.enum(BILL_PAYMENT_METHODS).openapi({ description: "How it was given back", example: "cash" }),
    reason: z.string().trim().min(1).max(500).optional().openapi({ description: "Why, printed on the customer's statement", example: "Damaged on delivery" }),
    restock: z
      .boolean()
      .optional()
      .openapi({ description: "Put every product line back in stock; only with the refund that makes the bill fully refunded", example: false }),
  })
  .openapi("CreateBillRefundRequest");

export const BillRefund = z
  .object({
    id: z.string().openapi({ description: "Refund id", example: "brf_01JD3X6W6X8Q3M1B0V4T2Y9ZKG" }),
    bill_id: z.string().openapi({ description: "The bill refunded", example: BILL_ID_EXAMPLE }),
    amount: Money("Amount given back", 1500),
    method: z.enum(BILL_PAYMENT_METHODS).openapi({ description: "How it was given back", example: "cash" }),
    reason: z.string().nullable().openapi({ description: "Why", example: "Damaged on delivery" }),
    restocked: z.boolean().openapi({ description: "Whether the goods went back into stock", example: false }),
    created_at: z.string().openapi({ description: "When it was recorded", example: "2026-05-02T12:00:00.000Z" }),
  })
  .openapi("BillRefund");

export const RefundResult = z.object({ refund: BillRefund, bill: Bill }).openapi("BillRefundResult");

export type CreateBillInput = z.infer<typeof CreateBillBody>;
export type BillItemInputValue = z.infer<typeof BillItemInput>;
export type BillView = z.infer<typeof Bill>;
export type BillItemView = z.infer<typeof BillItem>;
export type BillListInput = z.infer<typeof BillListQuery>;
export type CreatePaymentInput = z.infer<typeof CreatePaymentBody>;
export type BillPaymentView = z.infer<typeof BillPayment>;
export type CreateRefundInput = z.infer<typeof CreateRefundBody>;
export type BillRefundView = z.infer<typeof BillRefund>;
export type { BillPaymentMethod, BillStatus };
