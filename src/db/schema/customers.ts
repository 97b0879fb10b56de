import { sql } from "drizzle-orm";
import { bigint, boolean, check, date, index, integer, numeric, pgTable, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";
import { products } from "./catalog";
import { organizations, users } from "./tenancy";

/**
 * Kinds of customer ledger entry. Amounts are signed minor units: positive means the customer
 * owes more (a bill, an opening balance), negative means they owe less (a payment, a credit note).
 */
export const CUSTOMER_LEDGER_KINDS = ["bill", "payment", "credit_note", "refund", "adjustment", "opening_balance"] as const;
export type CustomerLedgerKind = (typeof CUSTOMER_LEDGER_KINDS)[number];

/** People and businesses an organisation sells to; a customer's balance is the sum of its ledger. */
export const customers = pgTable(
  "customers",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    /** E.164, e.g. `+14155550100`. */
    phone: text("phone"),
    email: text("email"),
    address: text("address"),
    /** Minor units of the organisation's currency; null means no limit. */
    creditLimit: bigint("credit_limit", { mode: "number" }),
    tags: text("tags").array().notNull().default(sql`'{}'::text[]`),
    /** The customer said STOP to marketing (an inbound SMS or WhatsApp message); campaigns skip them until START. */
    marketingOptOut: boolean("marketing_opt_out").notNull().default(false),
    /** Set instead of deleting, so bills and the ledger keep pointing at a real customer. */
    archivedAt: timestamp("archived_at", { withTimezone: true, mode: "date" }),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [
    index("customers_org_idx").on(t.orgId, t.id),
    index("customers_tags_idx").using("gin", t.tags),
    check("customers_credit_limit_non_negative", sql`${t.creditLimit} IS NULL OR ${t.creditLimit} >= 0`),
  ],
);

/**
 * The append-only customer ledger: nothing updates or deletes a row, and the balance is never
 * stored, only summed, so it cannot drift from the entries that explain it.
 */
export const customerLedger = pgTable(
  "customer_ledger",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    customerId: text("customer_id")
      .notNull()
      .references(() => customers.id, { onDelete: "cascade" }),
    kind: text("kind", { enum: CUSTOMER_LEDGER_KINDS }).notNull(),
    /** Signed minor units: positive means the customer owes more. */
    amount: bigint("amount", { mode: "number" }).notNull(),
    referenceType: text("reference_type"),
    referenceId: text("reference_id"),
    note: text("note"),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [
    index("customer_ledger_customer_idx").on(t.orgId, t.customerId, t.id),
    // One entry of a kind per thing it records: a retried or racing write cannot count twice.
    uniqueIndex("customer_ledger_reference_key").on(t.orgId, t.kind, t.referenceType, t.referenceId),
  ],
);

/** Suppliers an organisation buys from; what we owe each is the sum of its merchant ledger. */
export const merchants = pgTable(
  "merchants",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    phone: text("phone"),
    email: text("email"),
    address: text("address"),
    taxId: text("tax_id"),
    notes: text("notes"),
    archivedAt: timestamp("archived_at", { withTimezone: true, mode: "date" }),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [index("merchants_org_idx").on(t.orgId, t.id)],
);

export const CUSTOMER_PAYMENT_METHODS = ["cash", "card", "upi", "bank", "stripe", "other"] as const;

/**
 * Money a customer pays on account, not against one bill. It is allocated to their unpaid bills
 * (oldest first, or the bills named) as `bill_payments` rows pointing back here; what is left
 * stays on the ledger as credit for the next bill.
 */
export const customerPayments = pgTable(
  "customer_payments",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    customerId: text("customer_id")
      .notNull()
      .references(() => customers.id, { onDelete: "cascade" }),
    amount: bigint("amount", { mode: "number" }).notNull(),
    /** The part that went to bills; `amount - allocated` became credit. */
    allocated: bigint("allocated", { mode: "number" }).notNull(),
    method: text("method", { enum: CUSTOMER_PAYMENT_METHODS }).notNull(),
    reference: text("reference"),
    idempotencyKey: text("idempotency_key"),
    createdBy: text("created_by").references(() => users.id, { onDelete: "set null" }),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [
    index("customer_payments_customer_idx").on(t.orgId, t.customerId, t.id),
    uniqueIndex("customer_payments_idempotency_key").on(t.orgId, t.customerId, t.idempotencyKey),
    check("customer_payments_amount_positive", sql`${t.amount} > 0`),
  ],
);

/**
 * Kinds of merchant ledger entry, signed minor units: positive means we owe the merchant more
 * (a purchase on credit, an opening balance), negative means we owe less (a payment, a return).
 */
export const MERCHANT_LEDGER_KINDS = ["purchase", "payment", "adjustment", "opening_balance"] as const;
export type MerchantLedgerKind = (typeof MERCHANT_LEDGER_KINDS)[number];

/** Append-only like the customer ledger: what we owe a merchant is only ever summed. */
export const merchantLedger = pgTable(
  "merchant_ledger",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    merchantId: text("merchant_id")
      .notNull()
      .references(() => merchants.id, { onDelete: "cascade" }),
    kind: text("kind", { enum: MERCHANT_LEDGER_KINDS }).notNull(),
    amount: bigint("amount", { mode: "number" }).notNull(),
    referenceType: text("reference_type"),
    referenceId: text("reference_id"),
    note: text("note"),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [
    index("merchant_ledger_merchant_idx").on(t.orgId, t.merchantId, t.id),
    uniqueIndex("merchant_ledger_reference_key").on(t.orgId, t.kind, t.referenceType, t.referenceId),
  ],
);

/** Goods bought from a merchant: each product line adds stock (reason `purchase`) at its cost. */
export const merchantPurchases = pgTable(
  "merchant_purchases",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    merchantId: text("merchant_id")
      .notNull()
      .references(() => merchants.id, { onDelete: "cascade" }),
    /** The merchant's own invoice number, if any. */
    reference: text("reference"),
    total: bigint("total", { mode: "number" }).notNull(),
    currency: text("currency").notNull(),
    notes: text("notes"),
    purchasedOn: date("purchased_on", { mode: "string" }).notNull(),
    idempotencyKey: text("idempotency_key"),
    createdBy: text("created_by").references(() => users.id, { onDelete: "set null" }),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [
    index("merchant_purchases_merchant_idx").on(t.orgId, t.merchantId, t.id),
    uniqueIndex("merchant_purchases_idempotency_key").on(t.orgId, t.idempotencyKey),
  ],
);

export const merchantPurchaseItems = pgTable(
  "merchant_purchase_items",
  {
    id: text("id").primaryKey(),
    purchaseId: text("purchase_id")
      .notNull()
      .references(() => merchantPurchases.id, { onDelete: "cascade" }),
    position: integer("position").notNull(),
    productId: text("product_id")
      .notNull()
      .references(() => products.id),
    quantity: numeric("quantity", { precision: 14, scale: 3 }).notNull(),
    unitCost: bigint("unit_cost", { mode: "number" }).notNull(),
    lineTotal: bigint("line_total", { mode: "number" }).notNull(),
  },
  (t) => [uniqueIndex("merchant_purchase_items_position_key").on(t.purchaseId, t.position)],
);

/** Money we paid a merchant. */
export const merchantPayments = pgTable(
  "merchant_payments",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    merchantId: text("merchant_id")
      .notNull()
      .references(() => merchants.id, { onDelete: "cascade" }),
    amount: bigint("amount", { mode: "number" }).notNull(),
    method: text("method", { enum: CUSTOMER_PAYMENT_METHODS }).notNull(),
    reference: text("reference"),
    idempotencyKey: text("idempotency_key"),
    createdBy: text("created_by").references(() => users.id, { onDelete: "set null" }),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [
    index("merchant_payments_merchant_idx").on(t.orgId, t.merchantId, t.id),
    uniqueIndex("merchant_payments_idempotency_key").on(t.orgId, t.idempotencyKey),
    check("merchant_payments_amount_positive", sql`${t.amount} > 0`),
  ],
);
