import { z } from "@hono/zod-openapi";
import { CUSTOMER_LEDGER_KINDS, CUSTOMER_PAYMENT_METHODS } from "../../../db/schema/customers";
import { pathId } from "../../../lib/openapi";
import { pageQuery, pageSchema } from "../../../lib/pagination";

const CUSTOMER_ID_EXAMPLE = "cus_01JD3X6W6X8Q3M1B0V4T2Y9ZKA";
const BILL_ID_EXAMPLE = "bill_01JD3X6W6X8Q3M1B0V4T2Y9ZKC";
const PAYMENT_ID_EXAMPLE = "cpy_01JD3X6W6X8Q3M1B0V4T2Y9ZKF";

const Money = (description: string, example: number) =>
  z
    .number()
    .int()
    .openapi({ description: `${description}, in minor units`, example });

export const CustomerIdParam = z.object({
  id: pathId("id", "cus", "Customer id", CUSTOMER_ID_EXAMPLE),
});

export const CustomerPaymentBody = z
  .object({
    amount: z.number().int().min(1).max(1_000_000_000_000).openapi({ description: "Amount received, in minor units", example: 15000 }),
    method: z.enum(CUSTOMER_PAYMENT_METHODS).openapi({ description: "How it was paid", example: "upi" }),
    reference: z.string().trim().min(1).max(200).optional().openapi({ description: "Receipt or transfer reference", example: "UPI-998877" }),
    bill_ids: z
      .array(z.string().min(1).max(100))
      .min(1)
      .max(100)
      .optional()
      .openapi({
        description: "Pay these bills, in this order, instead of the oldest unpaid ones first. Each must be an unpaid bill of this customer",
        example: [BILL_ID_EXAMPLE],
      }),
  })
  .openapi("CustomerPaymentRequest");

export const Allocation = z
  .object({
    bill_id: z.string().openapi({ description: "The bill paid", example: BILL_ID_EXAMPLE }),
    number: z.string().nullable().openapi({ description: "Its number", example: "BILL-000042" }),
    amount: Money("Applied to this bill", 10000),
    balance_due: Money("What the bill still needs after this payment", 0),
  })
  .openapi("CustomerPaymentAllocation");

export const CustomerPayment = z
  .object({
    id: z.string().openapi({ description: "Payment id", example: PAYMENT_ID_EXAMPLE }),
    customer_id: z.string().openapi({ description: "The customer who paid", example: CUSTOMER_ID_EXAMPLE }),
    amount: Money("Amount received", 15000),
    allocated: Money("The part that paid bills", 10000),
    credit: Money("The part kept as the customer's credit, used by their next bill", 5000),
    currency: z.string().openapi({ description: "ISO 4217 currency of the amounts", example: "USD" }),
    method: z.enum(CUSTOMER_PAYMENT_METHODS).openapi({ description: "How it was paid", example: "upi" }),
    reference: z.string().nullable().openapi({ description: "Receipt or transfer reference", example: "UPI-998877" }),
    allocations: z.array(Allocation).openapi({ description: "The bills it paid, in the order it paid them", example: [] }),
    created_at: z.string().openapi({ description: "When it was recorded", example: "2026-05-01T12:00:00.000Z" }),
  })
  .openapi("CustomerPayment");

export const CustomerPaymentResult = CustomerPayment.extend({
  customer_balance: Money("What the customer owes after this payment (negative: their credit)", -5000),
}).openapi("CustomerPaymentResult");

export const CustomerPaymentList = pageSchema(CustomerPayment, "CustomerPaymentList", {
  data: "Payments on account, newest first",
  nextCursor: "Pass as `cursor` for the next (older) page; null on the last page",
});

export const CustomerPaymentListQuery = pageQuery({ defaultLimit: 50, cursorExample: PAYMENT_ID_EXAMPLE });

const IsoDate = z.iso.date({ error: "Use a date like 2026-05-31" });

export const StatementQuery = z
  .object({
    from: IsoDate.optional().openapi({ description: "First day (UTC) of the statement; default 90 days before `to`", example: "2026-04-01" }),
    to: IsoDate.optional().openapi({ description: "Last day (UTC) of the statement, included; default today", example: "2026-04-30" }),
  })
  .refine((q) => !q.from || !q.to || q.from <= q.to, { message: "`from` must not be after `to`", path: ["from"] });

export const StatementEntry = z
  .object({
    date: z.string().openapi({ description: "When it happened (ISO 8601, UTC)", example: "2026-04-03T10:15:00.000Z" }),
    kind: z.enum(CUSTOMER_LEDGER_KINDS).openapi({ description: "What caused the entry", example: "bill" }),
    description: z.string().openapi({ description: "A line a customer understands", example: "Bill BILL-000042" }),
    bill_id: z.string().nullable().openapi({ description: "The bill it concerns, if any", example: BILL_ID_EXAMPLE }),
    bill_number: z.string().nullable().openapi({ description: "That bill's number", example: "BILL-000042" }),
    debit: Money("What it added to the balance", 10000),
    credit: Money("What it took off the balance", 0),
    balance: Money("The balance after it", 10000),
  })
  .openapi("StatementEntry");

export const Statement = z
  .object({
    customer: z
      .object({
        id: z.string().openapi({ description: "Customer id", example: CUSTOMER_ID_EXAMPLE }),
        name: z.string().openapi({ description: "Customer name", example: "Asha Traders" }),
      })
      .openapi({ description: "Who the statement is for", example: { id: CUSTOMER_ID_EXAMPLE, name: "Asha Traders" } }),
    currency: z.string().openapi({ description: "ISO 4217 currency of the amounts", example: "USD" }),
    from: z.string().openapi({ description: "First day covered", example: "2026-04-01" }),
    to: z.string().openapi({ description: "Last day covered", example: "2026-04-30" }),
    opening_balance: Money("Owed at the start of `from`", 2500),
    total_debits: Money("Sum of debits in the period", 10000),
    total_credits: Money("Sum of credits in the period", 7500),
    closing_balance: Money("Owed at the end of `to`: opening + debits − credits", 5000),
    entries: z.array(StatementEntry).openapi({ description: "The period's entries, oldest first", example: [] }),
  })
  .openapi("CustomerStatement");

export type CustomerPaymentInput = z.infer<typeof CustomerPaymentBody>;
export type CustomerPaymentView = z.infer<typeof CustomerPayment>;
export type CustomerPaymentResultView = z.infer<typeof CustomerPaymentResult>;
export type AllocationView = z.infer<typeof Allocation>;
export type StatementInput = z.infer<typeof StatementQuery>;
export type StatementView = z.infer<typeof Statement>;
export type StatementEntryView = z.infer<typeof StatementEntry>;
