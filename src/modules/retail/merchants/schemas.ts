import { z } from "@hono/zod-openapi";
import { CUSTOMER_PAYMENT_METHODS, MERCHANT_LEDGER_KINDS } from "../../../db/schema/customers";
import { pathId } from "../../../lib/openapi";
import { pageQuery, pageSchema } from "../../../lib/pagination";
import { Address, Email, Phone } from "../customers/schemas";

const MERCHANT_ID_EXAMPLE = "mer_01JD3X6W6X8Q3M1B0V4T2Y9ZKA";
const PURCHASE_ID_EXAMPLE = "mpu_01JD3X6W6X8Q3M1B0V4T2Y9ZKB";
const PURCHASE_ITEM_ID_EXAMPLE = "mpi_01JD3X6W6X8Q3M1B0V4T2Y9ZKC";
const PAYMENT_ID_EXAMPLE = "mpy_01JD3X6W6X8Q3M1B0V4T2Y9ZKD";
const LEDGER_ENTRY_ID_EXAMPLE = "mel_01JD3X6W6X8Q3M1B0V4T2Y9ZKE";
const PRODUCT_ID_EXAMPLE = "prod_01JD3X6W6X8Q3M1B0V4T2Y9ZKF";
/** Postgres bigint range that JavaScript still counts exactly. */
export const MAX_MINOR_UNITS = Number.MAX_SAFE_INTEGER;
/** The largest single amount or unit cost a client may send, as for bills. */
const MAX_AMOUNT = 1_000_000_000_000;

const Currency = z.string().openapi({ description: "ISO 4217 currency of every amount, the organisation's currency", example: "USD" });
const Timestamp = (description: string) => z.string().openapi({ description, example: "2026-05-01T11:00:00.000Z" });
const Money = (description: string, example: number) =>
  z
    .number()
    .int()
    .openapi({ description: `${description}, in minor units of \`currency\``, example });

const TaxId = z.string().trim().min(1).max(50).openapi({ description: "The supplier's tax registration number (GSTIN, VAT, EIN)", example: "29ABCDE1234F1Z5" });
const Notes = z.string().trim().max(2000).openapi({ description: "Free-text notes", example: "Delivers Mondays and Thursdays" });

export const CreateMerchantBody = z
  .object({
    name: z.string().trim().min(1).max(200).openapi({ description: "Supplier's name", example: "Fresh Farms Wholesale" }),
    phone: Phone.optional(),
    email: Email.optional(),
    address: Address.optional(),
    tax_id: TaxId.optional(),
    notes: Notes.optional(),
    opening_balance: z.number().int().min(-MAX_MINOR_UNITS).max(MAX_MINOR_UNITS).optional().openapi({
      description:
        "What we already owe the merchant when they are added, in minor units (negative: an advance they hold of ours). Written as an `opening_balance` ledger entry",
      example: 50000,
    }),
  })
  .openapi("CreateMerchantRequest");

export const UpdateMerchantBody = z
  .object({
    name: CreateMerchantBody.shape.name.optional(),
    phone: Phone.nullable().optional(),
    email: Email.nullable().optional(),
    address: Address.nullable().optional(),
    tax_id: TaxId.nullable().optional(),
    notes: Notes.nullable().optional(),
  })
  .openapi("UpdateMerchantRequest");

export const Merchant = z
  .object({
    id: z.string().openapi({ description: "Merchant id", example: MERCHANT_ID_EXAMPLE }),
    name: z.string().openapi({ description: "Supplier's name", example: "Fresh Farms Wholesale" }),
    phone: z.string().nullable().openapi({ description: "Phone number in E.164 form", example: "+14155550100" }),
    email: z.string().nullable().openapi({ description: "Email address", example: "orders@freshfarms.example" }),
    address: z.string().nullable().openapi({ description: "Postal address", example: "Plot 4, APMC Yard, Bengaluru" }),
    tax_id: z.string().nullable().openapi({ description: "Tax registration number", example: "29ABCDE1234F1Z5" }),
    notes: z.string().nullable().openapi({ description: "Free-text notes", example: "Delivers Mondays and Thursdays" }),
    balance_owed: Money("What we owe the merchant now (the sum of its ledger); negative means we paid ahead (an advance)", 50000),
    currency: Currency,
    archived_at: z.string().nullable().openapi({ description: "When the merchant was archived, or null", example: null }),
    created_at: Timestamp("When the merchant was added"),
    updated_at: Timestamp("When the merchant last changed"),
  })
  .openapi("Merchant");

export const MerchantList = pageSchema(Merchant, "MerchantList", { data: "Merchants that are not archived, oldest first" });

export const MerchantListQuery = pageQuery({ defaultLimit: 50, cursorExample: MERCHANT_ID_EXAMPLE }).extend({
  q: z.string().trim().min(1).max(100).optional().openapi({ description: "Matches name, phone or email, case-insensitive", example: "fresh" }),
  owing: z
    .enum(["true", "false"])
    .transform((v) => v === "true")
    .optional()
    .openapi({ description: "`true`: only merchants we owe money (`balance_owed` > 0)", example: "true" }),
});

export const MerchantIdParam = z.object({
  id: pathId("id", "mer", "Merchant id", MERCHANT_ID_EXAMPLE),
});

const PurchaseIdParamValue = pathId("purchase_id", "mpu", "Purchase id", PURCHASE_ID_EXAMPLE);

export const MerchantPurchaseParams = MerchantIdParam.extend({ purchase_id: PurchaseIdParamValue });

// ---- purchases ----------------------------------------------------------------------------

// numeric(14,3): at most 11 digits before the point and 3 after.
const QUANTITY = /^\d{1,11}(\.\d{1,3})?$/;

/** A positive quantity, kept as a decimal string so no float arithmetic ever touches it. */
const PurchaseQuantity = z
  .union([z.number().finite(), z.string().trim()])
  .transform((value, ctx) => {
    const text = typeof value === "number" ? String(value) : value;
    if (!QUANTITY.test(text) || /^0+(\.0+)?$/.test(text)) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: "A positive decimal with at most 11 digits before the point and 3 after" });
      return z.NEVER;
    }
    return text;
  })
  .openapi({ description: "Quantity received, in the product's unit: a number or a decimal string, at most 3 decimals", example: "12.500" });

export const PurchaseItemInput = z
  .object({
    product_id: z.string().max(100).openapi({ description: "A product of the organisation that is not archived", example: PRODUCT_ID_EXAMPLE }),
    quantity: PurchaseQuantity,
    unit_cost: z
      .number()
      .int()
      .min(0)
      .max(MAX_AMOUNT)
      .openapi({ description: "What one unit cost, in minor units; becomes the product's `cost`", example: 1200 }),
  })
  .openapi("MerchantPurchaseItemInput");

/** Shown in the OpenAPI document; purchase-money.ts implements it. */
export const PURCHASE_RULE =
  "Per line: line_total = round_half_up(quantity × unit_cost) in minor units; the purchase total is Σ line_total. " +
  "Each line adds its quantity to the product's stock (reason `purchase`) and sets the product's `cost` to its unit cost " +
  "(the last line wins when a product appears twice). The total is added to what we owe the merchant.";

export const CreatePurchaseBody = z
  .object({
    items: z
      .array(PurchaseItemInput)
      .min(1)
      .max(500)
      .openapi({ description: "What was received, in order", example: [{ product_id: PRODUCT_ID_EXAMPLE, quantity: "12.500", unit_cost: 1200 }] }),
    reference: z.string().trim().min(1).max(100).optional().openapi({ description: "The merchant's own invoice number", example: "FF-INV-2291" }),
    purchased_on: z
      .string()
      .date()
      .optional()
      .openapi({ description: "When the goods were bought (YYYY-MM-DD); today (UTC) by default", example: "2026-05-01" }),
    notes: Notes.optional(),
  })
  .openapi("CreateMerchantPurchaseRequest", { description: PURCHASE_RULE });

export const PurchaseItem = z
  .object({
    id: z.string().openapi({ description: "Line id", example: PURCHASE_ITEM_ID_EXAMPLE }),
    position: z.number().int().openapi({ description: "Position on the purchase, from 1", example: 1 }),
    product_id: z.string().openapi({ description: "The product received", example: PRODUCT_ID_EXAMPLE }),
    quantity: z.string().openapi({ description: "Quantity received, with exactly 3 decimals", example: "12.500" }),
    unit_cost: Money("Cost of one unit", 1200),
    line_total: Money("round_half_up(quantity × unit_cost)", 15000),
  })
  .openapi("MerchantPurchaseItem");

export const Purchase = z
  .object({
    id: z.string().openapi({ description: "Purchase id", example: PURCHASE_ID_EXAMPLE }),
    merchant_id: z.string().openapi({ description: "The merchant bought from", example: MERCHANT_ID_EXAMPLE }),
    reference: z.string().nullable().openapi({ description: "The merchant's own invoice number, or null", example: "FF-INV-2291" }),
    purchased_on: z.string().openapi({ description: "When the goods were bought (YYYY-MM-DD)", example: "2026-05-01" }),
    notes: z.string().nullable().openapi({ description: "Free-text notes", example: "Delivers Mondays and Thursdays" }),
    total: Money("Σ line_total, added to what we owe the merchant", 15000),
    currency: Currency,
    created_by: z.string().nullable().openapi({ description: "User who recorded it, or null (API key)", example: "usr_01JD3X6W6X8Q3M1B0V4T2Y9ZKG" }),
    created_at: Timestamp("When the purchase was recorded"),
    items: z.array(PurchaseItem).openapi({ description: "The lines, in position order", example: [] }),
  })
  .openapi("MerchantPurchase", { description: PURCHASE_RULE });

export const PurchaseList = pageSchema(Purchase, "MerchantPurchaseList", {
  data: "Purchases from the merchant, newest first",
  nextCursor: "Pass as `cursor` for older purchases; null on the last page",
});

export const PurchaseListQuery = pageQuery({ defaultLimit: 50, cursorExample: PURCHASE_ID_EXAMPLE }).extend({
  q: z.string().trim().min(1).max(100).optional().openapi({ description: "Text in the reference or notes, case-insensitive", example: "INV-22" }),
});

// ---- payments -----------------------------------------------------------------------------

export const CreateMerchantPaymentBody = z
  .object({
    amount: z.number().int().min(1).max(MAX_AMOUNT).openapi({ description: "Amount paid to the merchant, in minor units", example: 2000 }),
    method: z.enum(CUSTOMER_PAYMENT_METHODS).openapi({ description: "How it was paid", example: "bank" }),
    reference: z
      .string()
      .trim()
      .min(1)
      .max(200)
      .nullable()
      .optional()
      .openapi({ description: "Transfer, cheque or receipt reference", example: "NEFT-889201" }),
    advance: z
      .boolean()
      .optional()
      .openapi({ description: "Allow paying more than we owe: the excess is an advance and `balance_owed` goes negative", example: false }),
  })
  .openapi("CreateMerchantPaymentRequest");

export const MerchantPayment = z
  .object({
    id: z.string().openapi({ description: "Payment id", example: PAYMENT_ID_EXAMPLE }),
    merchant_id: z.string().openapi({ description: "The merchant paid", example: MERCHANT_ID_EXAMPLE }),
    amount: Money("Amount paid", 2000),
    currency: Currency,
    method: z.enum(CUSTOMER_PAYMENT_METHODS).openapi({ description: "How it was paid", example: "bank" }),
    reference: z.string().nullable().openapi({ description: "Transfer, cheque or receipt reference", example: "NEFT-889201" }),
    created_by: z.string().nullable().openapi({ description: "User who recorded it, or null (API key)", example: "usr_01JD3X6W6X8Q3M1B0V4T2Y9ZKG" }),
    created_at: Timestamp("When the payment was recorded"),
  })
  .openapi("MerchantPayment");

export const MerchantPaymentResult = z
  .object({
    payment: MerchantPayment,
    merchant: Merchant,
  })
  .openapi("MerchantPaymentResult");

export const MerchantPaymentList = pageSchema(MerchantPayment, "MerchantPaymentList", {
  data: "Payments to the merchant, newest first",
  nextCursor: "Pass as `cursor` for older payments; null on the last page",
});

export const MerchantPaymentListQuery = pageQuery({ defaultLimit: 50, cursorExample: PAYMENT_ID_EXAMPLE });

// ---- ledger -------------------------------------------------------------------------------

export const MerchantLedgerEntry = z
  .object({
    id: z.string().openapi({ description: "Ledger entry id", example: LEDGER_ENTRY_ID_EXAMPLE }),
    kind: z.enum(MERCHANT_LEDGER_KINDS).openapi({ description: "What caused the entry", example: "purchase" }),
    amount: Money("Signed: positive means we owe the merchant more", 15000),
    balance_after: Money("What we owed the merchant right after this entry", 65000),
    currency: Currency,
    reference_type: z
      .string()
      .nullable()
      .openapi({ description: "Kind of record behind the entry: `merchant_purchase` or `merchant_payment`", example: "merchant_purchase" }),
    reference_id: z.string().nullable().openapi({ description: "Id of the record behind the entry", example: PURCHASE_ID_EXAMPLE }),
    note: z.string().nullable().openapi({ description: "Free-text note", example: "Purchase FF-INV-2291" }),
    created_at: Timestamp("When the entry was written"),
  })
  .openapi("MerchantLedgerEntry");

export const MerchantLedgerPage = pageSchema(MerchantLedgerEntry, "MerchantLedgerPage", {
  data: "Ledger entries, newest first, each with the running balance after it",
  nextCursor: "Pass as `cursor` for older entries; null on the last page",
});

export const MerchantLedgerQuery = pageQuery({ defaultLimit: 50, cursorExample: LEDGER_ENTRY_ID_EXAMPLE });

export type CreateMerchantInput = z.infer<typeof CreateMerchantBody>;
export type UpdateMerchantInput = z.infer<typeof UpdateMerchantBody>;
export type MerchantListInput = z.infer<typeof MerchantListQuery>;
export type MerchantView = z.infer<typeof Merchant>;
export type CreatePurchaseInput = z.infer<typeof CreatePurchaseBody>;
export type PurchaseListInput = z.infer<typeof PurchaseListQuery>;
export type PurchaseView = z.infer<typeof Purchase>;
export type PurchaseItemView = z.infer<typeof PurchaseItem>;
export type CreateMerchantPaymentInput = z.infer<typeof CreateMerchantPaymentBody>;
export type MerchantPaymentView = z.infer<typeof MerchantPayment>;
export type MerchantLedgerEntryView = z.infer<typeof MerchantLedgerEntry>;
