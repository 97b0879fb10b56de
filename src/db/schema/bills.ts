import { sql } from "drizzle-orm";
import { bigint, boolean, check, date, index, integer, numeric, pgTable, primaryKey, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";
import { products } from "./catalog";
import { customerPayments, customers } from "./customers";
import { organizations, users } from "./tenancy";

export const BILL_STATUSES = ["draft", "issued", "partially_paid", "paid", "refunded", "void"] as const;
export type BillStatus = (typeof BILL_STATUSES)[number];

export const BILL_PAYMENT_METHODS = ["cash", "card", "upi", "bank", "stripe", "other"] as const;
export type BillPaymentMethod = (typeof BILL_PAYMENT_METHODS)[number];

/** How money reached a bill: the methods above, or `credit` the customer already had on account. */
export const BILL_PAYMENT_SOURCES = [...BILL_PAYMENT_METHODS, "credit"] as const;

/**
 * Bills an organisation writes to its customers. Money is integer minor units of `currency`
 * (the organisation's currency when the bill was created); totals are computed by the server
 * only (see src/modules/retail/bills/money.ts). `number` stays null until the bill is issued.
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
    /** Money given back on a paid bill; revenue is `total - amount_refunded`. */
    amountRefunded: bigint("amount_refunded", { mode: "number" }).notNull().default(0),
    /** The org's pricing rule when the bill was created, so later setting changes never re-price it. */
    pricesIncludeTax: boolean("prices_include_tax").notNull().default(false),
    dueDate: date("due_date", { mode: "string" }),
    notes: text("notes"),
    issuedAt: timestamp("issued_at", { withTimezone: true, mode: "date" }),
    voidedAt: timestamp("voided_at", { withTimezone: true, mode: "date" }),
    /** Bumped to revoke every public link sent so far (links carry the version they were signed with). */
    linkVersion: integer("link_version").notNull().default(1),
    /** When the last overdue reminder went out; the cron sends at most one per bill per interval. */
    lastRemindedAt: timestamp("last_reminded_at", { withTimezone: true, mode: "date" }),
    createdBy: text("created_by").references(() => users.id, { onDelete: "set null" }),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("bills_org_number_key").on(t.orgId, t.number),
    index("bills_org_idx").on(t.orgId, t.id),
    index("bills_org_customer_idx").on(t.orgId, t.customerId),
    index("bills_org_issued_idx").on(t.orgId, t.issuedAt),
    index("bills_overdue_idx").on(t.dueDate).where(sql`${t.status} in ('issued', 'partially_paid')`),
    // What an organisation is owed now (the dashboard's outstanding) reads only its open bills.
    index("bills_org_open_idx").on(t.orgId).where(sql`${t.status} in ('issued', 'partially_paid')`),
    check("bills_amount_paid_non_negative", sql`${t.amountPaid} >= 0`),
    check("bills_amount_paid_within_total", sql`${t.amountPaid} <= ${t.total}`),
    check("bills_amount_refunded_within_paid", sql`${t.amountRefunded} >= 0 AND ${t.amountRefunded} <= ${t.amountPaid}`),
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
    /** The bill's organisation, copied so money received is summed per organisation without a join. */
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    amount: bigint("amount", { mode: "number" }).notNull(),
    method: text("method", { enum: BILL_PAYMENT_SOURCES }).notNull(),
    reference: text("reference"),
    /** Set when the money came from a payment on account allocated to this bill. */
    customerPaymentId: text("customer_payment_id").references(() => customerPayments.id),
    idempotencyKey: text("idempotency_key"),
    createdBy: text("created_by").references(() => users.id, { onDelete: "set null" }),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("bill_payments_bill_idempotency_key").on(t.billId, t.idempotencyKey),
    index("bill_payments_bill_idx").on(t.billId, t.id),
    index("bill_payments_org_created_idx").on(t.orgId, t.createdAt),
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

/** Money given back on a paid bill. A full refund may also put the goods back in stock. */
export const billRefunds = pgTable(
  "bill_refunds",
  {
    id: text("id").primaryKey(),
    billId: text("bill_id")
      .notNull()
      .references(() => bills.id, { onDelete: "cascade" }),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    amount: bigint("amount", { mode: "number" }).notNull(),
    method: text("method", { enum: BILL_PAYMENT_METHODS }).notNull(),
    reason: text("reason"),
    restocked: boolean("restocked").notNull().default(false),
    idempotencyKey: text("idempotency_key"),
    createdBy: text("created_by").references(() => users.id, { onDelete: "set null" }),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("bill_refunds_bill_idempotency_key").on(t.billId, t.idempotencyKey),
    index("bill_refunds_bill_idx").on(t.billId, t.id),
    index("bill_refunds_org_created_idx").on(t.orgId, t.createdAt),
    check("bill_refunds_amount_positive", sql`${t.amount} > 0`),
  ],
);
