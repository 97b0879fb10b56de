import { sql } from "drizzle-orm";
import { bigint, check, date, index, integer, numeric, pgTable, primaryKey, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";
import { products } from "./catalog";
import { customers } from "./customers";
import { organizations, users } from "./tenancy";

export const BILL_STATUSES = ["draft", "issued", "partially_paid", "paid", "void"] as const;
export type BillStatus = (typeof BILL_STATUSES)[number];

export const BILL_PAYMENT_METHODS = ["cash", "card", "upi", "bank", "stripe", "other"] as const;
export type BillPaymentMethod = (typeof BILL_PAYMENT_METHODS)[number];

/**
 * Bills an organisation writes to its customers. Money is integer minor units of `currency`
 * (the organisation's currency when the bill was created); totals are computed by the server
 * only (see src/modules/bills/money.ts). `number` stays null until the bill is issued.
 */
export const bills = pgTable(
  "bills",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    /** `BILL-000001`, from bill_number_sequences when the bill is issued. */
    number: text("number"),
    customerId: text("customer_id").references(() => customers.id),
    status: text("status", { enum: BILL_STATUSES }).notNull().default("draft"),
    currency: text("currency").notNull(),
    subtotal: bigint("subtotal", { mode: "number" }).notNull(),
    discount: bigint("discount", { mode: "number" }).notNull().default(0),
    tax: bigint("tax", { mode: "number" }).notNull(),
    total: bigint("total", { mode: "number" }).notNull(),
    amountPaid: bigint("amount_paid", { mode: "number" }).notNull().default(0),
    dueDate: date("due_date", { mode: "string" }),
    notes: text("notes"),
    issuedAt: timestamp("issued_at", { withTimezone: true, mode: "date" }),
    voidedAt: timestamp("voided_at", { withTimezone: true, mode: "date" }),
    createdBy: text("created_by").references(() => users.id, { onDelete: "set null" }),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("bills_org_number_key").on(t.orgId, t.number),
    index("bills_org_idx").on(t.orgId, t.id),
    index("bills_org_customer_idx").on(t.orgId, t.customerId),
    check("bills_amount_paid_non_negative", sql`${t.amountPaid} >= 0`),
  ],
);

/** The lines of a bill, in `position` order; a product line copies name, unit, price and tax rate. */
export const billItems = pgTable(
  "bill_items",
  {
    id: text("id").primaryKey(),
    billId: text("bill_id")
      .notNull()
      .references(() => bills.id, { onDelete: "cascade" }),
    position: integer("position").notNull(),
    productId: text("product_id").references(() => products.id),
    description: text("description").notNull(),
    quantity: numeric("quantity", { precision: 14, scale: 3 }).notNull(),
    unit: text("unit").notNull(),
    unitPrice: bigint("unit_price", { mode: "number" }).notNull(),
    discount: bigint("discount", { mode: "number" }).notNull().default(0),
    taxRateBps: integer("tax_rate_bps").notNull().default(0),
    lineSubtotal: bigint("line_subtotal", { mode: "number" }).notNull(),
    lineTax: bigint("line_tax", { mode: "number" }).notNull(),
    lineTotal: bigint("line_total", { mode: "number" }).notNull(),
  },
  (t) => [uniqueIndex("bill_items_bill_position_key").on(t.billId, t.position)],
);

/** Money received against a bill. An Idempotency-Key is unique per bill, so a retry cannot pay twice. */
export const billPayments = pgTable(
  "bill_payments",
  {
    id: text("id").primaryKey(),
    billId: text("bill_id")
      .notNull()
      .references(() => bills.id, { onDelete: "cascade" }),
    amount: bigint("amount", { mode: "number" }).notNull(),
    method: text("method", { enum: BILL_PAYMENT_METHODS }).notNull(),
    reference: text("reference"),
    idempotencyKey: text("idempotency_key"),
    createdBy: text("created_by").references(() => users.id, { onDelete: "set null" }),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("bill_payments_bill_idempotency_key").on(t.billId, t.idempotencyKey),
    index("bill_payments_bill_idx").on(t.billId, t.id),
    check("bill_payments_amount_positive", sql`${t.amount} > 0`),
  ],
);

/**
 * The last bill number handed out per organisation. Incremented by one UPDATE inside the issuing
 * transaction, so the numbers are gap-free: a rolled-back issue rolls its increment back too.
 */
export const billNumberSequences = pgTable(
  "bill_number_sequences",
  {
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    lastNumber: bigint("last_number", { mode: "number" }).notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.orgId] })],
);
