import { sql } from "drizzle-orm";
import { bigint, check, index, pgTable, text, timestamp } from "drizzle-orm/pg-core";
import { organizations } from "./tenancy";

/**
 * Kinds of customer ledger entry. Amounts are signed minor units: positive means the customer
 * owes more (a bill, an opening balance), negative means they owe less (a payment, a credit note).
 */
export const CUSTOMER_LEDGER_KINDS = ["bill", "payment", "credit_note", "adjustment", "opening_balance"] as const;
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
  (t) => [index("customer_ledger_customer_idx").on(t.orgId, t.customerId, t.id)],
);

/** Suppliers an organisation buys from. Purchases and supplier payments arrive in a later step. */
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
