import { z } from "@hono/zod-openapi";
import { CUSTOMER_LEDGER_KINDS } from "../../../db/schema/customers";
import { pathId } from "../../../lib/openapi";
import { pageQuery, pageSchema } from "../../../lib/pagination";
import { E164 } from "../../../lib/phone";

const CUSTOMER_ID_EXAMPLE = "cus_01JD3X6W6X8Q3M1B0V4T2Y9ZKA";
const LEDGER_ENTRY_ID_EXAMPLE = "cul_01JD3X6W6X8Q3M1B0V4T2Y9ZKB";
/** Postgres bigint range that JavaScript still counts exactly. */
const MAX_MINOR_UNITS = Number.MAX_SAFE_INTEGER;

/** An E.164 phone number; shared with merchants. */
export const Phone = z
  .string()
  .trim()
  .regex(E164, "Enter a phone number in E.164 form, e.g. +14155550100")
  .openapi({ description: "Phone number in E.164 form", example: "+14155550100" });

/** An email address; shared with merchants. */
export const Email = z.string().trim().max(254).email().openapi({ description: "Email address", example: "asha@example.com" });

export const Address = z.string().trim().max(500).openapi({ description: "Postal address, free text", example: "12 MG Road, Bengaluru 560001" });

const Currency = z.string().openapi({ description: "ISO 4217 currency of every amount, the organisation's currency", example: "USD" });

const Tag = z.string().trim().min(1).max(50).openapi({ description: "A label to group customers by", example: "wholesale" });

const CreditLimit = z
  .number()
  .int()
  .min(0)
  .max(MAX_MINOR_UNITS)
  .nullable()
  .openapi({ description: "Most the customer may owe, in minor units of the organisation's currency; null means no limit", example: 500000 });

export const CreateCustomerBody = z
  .object({
    name: z.string().trim().min(1).max(200).openapi({ description: "Customer's name", example: "Asha Traders" }),
    phone: Phone.optional(),
    email: Email.optional(),
    address: Address.optional(),
    credit_limit: CreditLimit.optional(),
    tags: z
      .array(Tag)
      .max(20)
      .optional()
      .openapi({ description: "Labels to group customers by", example: ["wholesale"] }),
    opening_balance: z.number().int().min(-MAX_MINOR_UNITS).max(MAX_MINOR_UNITS).optional().openapi({
      description: "What the customer already owes when added, in minor units (negative: you owe them). Written as an `opening_balance` ledger entry",
      example: 2500,
    }),
  })
  .openapi("CreateCustomerRequest");

export const UpdateCustomerBody = z
  .object({
    name: CreateCustomerBody.shape.name.optional(),
    phone: Phone.nullable().optional(),
    email: Email.nullable().optional(),
    address: Address.nullable().optional(),
    credit_limit: CreditLimit.optional(),
    tags: z
      .array(Tag)
      .max(20)
      .optional()
      .openapi({ description: "Replaces the customer's labels", example: ["wholesale", "vip"] }),
  })
  .openapi("UpdateCustomerRequest");

export const Customer = z
  .object({
    id: z.string().openapi({ description: "Customer id", example: CUSTOMER_ID_EXAMPLE }),
    name: z.string().openapi({ description: "Customer's name", example: "Asha Traders" }),
    phone: z.string().nullable().openapi({ description: "Phone number in E.164 form", example: "+14155550100" }),
    email: z.string().nullable().openapi({ description: "Email address", example: "asha@example.com" }),
    address: z.string().nullable().openapi({ description: "Postal address", example: "12 MG Road, Bengaluru 560001" }),
    credit_limit: z.number().int().nullable().openapi({ description: "Most the customer may owe, in minor units; null means no limit", example: 500000 }),
    tags: z.array(z.string()).openapi({ description: "Labels", example: ["wholesale"] }),
    balance: z
      .number()
      .int()
      .openapi({ description: "What the customer owes now (sum of the ledger), in minor units; negative means you owe them", example: 2500 }),
    currency: Currency,
    archived_at: z.string().nullable().openapi({ description: "When the customer was archived, or null", example: null }),
    created_at: z.string().openapi({ description: "When the customer was added", example: "2026-05-01T11:00:00.000Z" }),
    updated_at: z.string().openapi({ description: "When the customer last changed", example: "2026-05-01T11:00:00.000Z" }),
  })
  .openapi("Customer");

export const CustomerList = pageSchema(Customer, "CustomerList", { data: "Customers that are not archived, oldest first" });

export const CustomerListQuery = pageQuery({ defaultLimit: 50, cursorExample: CUSTOMER_ID_EXAMPLE }).extend({
  q: z.string().trim().min(1).max(100).optional().openapi({ description: "Matches name, phone or email, case-insensitive", example: "asha" }),
  tag: z.string().trim().min(1).max(50).optional().openapi({ description: "Only customers with this tag", example: "wholesale" }),
});

export const CustomerLedgerEntry = z
  .object({
    id: z.string().openapi({ description: "Ledger entry id", example: LEDGER_ENTRY_ID_EXAMPLE }),
    kind: z.enum(CUSTOMER_LEDGER_KINDS).openapi({ description: "What caused the entry", example: "opening_balance" }),
    amount: z.number().int().openapi({ description: "Signed minor units: positive means the customer owes more", example: 2500 }),
    balance_after: z.number().int().openapi({ description: "The customer's balance right after this entry, in minor units", example: 2500 }),
    currency: Currency,
    reference_type: z.string().nullable().openapi({ description: "Kind of record behind the entry, e.g. `bill`", example: "bill" }),
    reference_id: z.string().nullable().openapi({ description: "Id of the record behind the entry", example: "bill_01JD3X6W6X8Q3M1B0V4T2Y9ZKC" }),
    note: z.string().nullable().openapi({ description: "Free-text note", example: "Balance carried over from the old ledger book" }),
    created_at: z.string().openapi({ description: "When the entry was written", example: "2026-05-01T11:00:00.000Z" }),
  })
  .openapi("CustomerLedgerEntry");

export const CustomerLedgerPage = pageSchema(CustomerLedgerEntry, "CustomerLedgerPage", {
  data: "Ledger entries, newest first, each with the running balance after it",
  nextCursor: "Pass as `cursor` for older entries; null on the last page",
});

export const CustomerLedgerQuery = pageQuery({ defaultLimit: 50, cursorExample: LEDGER_ENTRY_ID_EXAMPLE });

export const CustomerIdParam = z.object({
  id: pathId("id", "cus", "Customer id", CUSTOMER_ID_EXAMPLE),
});

export type CreateCustomerInput = z.infer<typeof CreateCustomerBody>;
export type UpdateCustomerInput = z.infer<typeof UpdateCustomerBody>;
export type CustomerListInput = z.infer<typeof CustomerListQuery>;
export type CustomerView = z.infer<typeof Customer>;
export type CustomerLedgerEntryView = z.infer<typeof CustomerLedgerEntry>;
