import { sql } from "drizzle-orm";
import { bigint, boolean, check, date, index, integer, jsonb, numeric, pgTable, primaryKey, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";
import { customers } from "./customers";
import { organizations, users } from "./tenancy";

export const AGENT_STATUSES = ["active", "paused", "archived"] as const;
export const AGENT_EVENT_KINDS = ["activity", "cost", "outcome"] as const;
export type AgentEventKind = (typeof AGENT_EVENT_KINDS)[number];

/** AI agents an organisation runs, optionally on behalf of one of its customers (who is billed for them). */
export const agents = pgTable(
  "agents",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    /** The organisation's customer this agent works for; its events are billed to that customer. */
    customerId: text("customer_id").references(() => customers.id),
    name: text("name").notNull(),
    description: text("description"),
    externalId: text("external_id"),
    metadata: jsonb("metadata").$type<Record<string, unknown>>().notNull().default({}),
    status: text("status", { enum: AGENT_STATUSES }).notNull().default("active"),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [
    index("agents_org_idx").on(t.orgId, t.id),
    index("agents_org_customer_idx").on(t.orgId, t.customerId),
    uniqueIndex("agents_org_external_key").on(t.orgId, t.externalId),
  ],
);

/**
 * What agents did: activities (units of work), costs (money spent, e.g. model tokens) and
 * outcomes (results, successful or not, with a value). `id` is the caller's idempotency id,
 * unique per organisation, so a repeated event is stored once.
 *
 * `(org_id, agent_id)` must name an agent of that organisation, and deleting the agent (or its
 * organisation) deletes its events: foreign keys in effect, but enforced by statement-level
 * triggers (migrations/0020_agent_events_statement_checks.sql) instead of declared ones. A foreign
 * key checks each row on its own, 2,000 lookups for a 1,000-event batch and a third of the
 * insert's time; the trigger checks a statement's distinct agents in one query.
 */
export const agentEvents = pgTable(
  "agent_events",
  {
    orgId: text("org_id").notNull(),
    id: text("id").notNull(),
    agentId: text("agent_id").notNull(),
    kind: text("kind", { enum: AGENT_EVENT_KINDS }).notNull(),
    type: text("type").notNull(),
    /** Units of an activity (3 decimals); 1 when not given. */
    quantity: numeric("quantity", { precision: 20, scale: 3 }).notNull().default("1"),
    /** A cost, in minor units of `currency`. */
    amount: bigint("amount", { mode: "number" }),
    currency: text("currency"),
    /** An outcome's value, in minor units of `currency` (percentage pricing applies to it). */
    value: bigint("value", { mode: "number" }),
    success: boolean("success"),
    occurredAt: timestamp("occurred_at", { withTimezone: true, mode: "date" }).notNull(),
    metadata: jsonb("metadata").$type<Record<string, unknown>>(),
    receivedAt: timestamp("received_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.orgId, t.id] }),
    index("agent_events_agent_time_idx").on(t.orgId, t.agentId, t.occurredAt),
    index("agent_events_org_time_idx").on(t.orgId, t.occurredAt),
  ],
);

export const BILLING_PERIODS = ["month"] as const;

/** A named way to bill; its terms live in versions, so an invoice keeps the terms it was computed with. */
export const billingModels = pgTable(
  "billing_models",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    currentVersion: integer("current_version").notNull(),
    archivedAt: timestamp("archived_at", { withTimezone: true, mode: "date" }),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [index("billing_models_org_idx").on(t.orgId, t.id), uniqueIndex("billing_models_org_name_key").on(t.orgId, sql`lower(${t.name})`)],
);

/** The terms of one version of a billing model; never changed once written. */
export const billingModelVersions = pgTable(
  "billing_model_versions",
  {
    modelId: text("model_id")
      .notNull()
      .references(() => billingModels.id, { onDelete: "cascade" }),
    version: integer("version").notNull(),
    currency: text("currency").notNull(),
    period: text("period", { enum: BILLING_PERIODS }).notNull().default("month"),
    baseFee: bigint("base_fee", { mode: "number" }).notNull().default(0),
    minimumCommitment: bigint("minimum_commitment", { mode: "number" }).notNull().default(0),
    taxRateBps: integer("tax_rate_bps").notNull().default(0),
    /** The components (seat, activity, outcome, cost_plus) as validated by src/modules/usage/billing-models/schemas.ts. */
    components: jsonb("components").$type<unknown[]>().notNull(),
    createdBy: text("created_by").references(() => users.id, { onDelete: "set null" }),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.modelId, t.version] })],
);

/** Which billing model a customer is billed with; the monthly run invoices every such customer. */
export const customerBillingPlans = pgTable(
  "customer_billing_plans",
  {
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    customerId: text("customer_id")
      .notNull()
      .references(() => customers.id, { onDelete: "cascade" }),
    modelId: text("model_id")
      .notNull()
      .references(() => billingModels.id),
    /** For `seat` components with seats = manual. */
    seats: integer("seats"),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.customerId] })],
);

export const INVOICE_STATUSES = ["draft", "open", "paid", "void"] as const;

/** Invoices for usage, computed from a billing model version over a period. */
export const invoices = pgTable(
  "invoices",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    customerId: text("customer_id")
      .notNull()
      .references(() => customers.id),
    modelId: text("model_id")
      .notNull()
      .references(() => billingModels.id),
    modelVersion: integer("model_version").notNull(),
    /** `INV-000001`, gap-free per organisation, given when the invoice opens. */
    number: text("number"),
    status: text("status", { enum: INVOICE_STATUSES }).notNull().default("draft"),
    /** [period_start, period_end) in UTC days. */
    periodStart: date("period_start", { mode: "string" }).notNull(),
    periodEnd: date("period_end", { mode: "string" }).notNull(),
    currency: text("currency").notNull(),
    subtotal: bigint("subtotal", { mode: "number" }).notNull(),
    taxRateBps: integer("tax_rate_bps").notNull(),
    tax: bigint("tax", { mode: "number" }).notNull(),
    total: bigint("total", { mode: "number" }).notNull(),
    amountPaid: bigint("amount_paid", { mode: "number" }).notNull().default(0),
    /** How a manually recorded payment was made (cash, bank, ...). */
    paymentMethod: text("payment_method"),
    paymentReference: text("payment_reference"),
    /** A Stripe Checkout link for the customer, and its session id (the webhook marks the invoice paid). */
    paymentUrl: text("payment_url"),
    stripeCheckoutSessionId: text("stripe_checkout_session_id"),
    issuedAt: timestamp("issued_at", { withTimezone: true, mode: "date" }),
    paidAt: timestamp("paid_at", { withTimezone: true, mode: "date" }),
    voidedAt: timestamp("voided_at", { withTimezone: true, mode: "date" }),
    createdBy: text("created_by").references(() => users.id, { onDelete: "set null" }),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [
    index("invoices_org_idx").on(t.orgId, t.id),
    uniqueIndex("invoices_org_number_key").on(t.orgId, t.number),
    uniqueIndex("invoices_stripe_session_key").on(t.stripeCheckoutSessionId),
    // One live invoice per customer, model and period: the monthly run and a racing second run
    // meet here instead of billing twice. A void invoice frees the period for a new one.
    uniqueIndex("invoices_customer_period_key").on(t.orgId, t.customerId, t.modelId, t.periodStart).where(sql`${t.status} <> 'void'`),
    check("invoices_amount_paid_within_total", sql`${t.amountPaid} >= 0 AND ${t.amountPaid} <= ${t.total}`),
  ],
);

export const invoiceLines = pgTable(
  "invoice_lines",
  {
    id: text("id").primaryKey(),
    invoiceId: text("invoice_id")
      .notNull()
      .references(() => invoices.id, { onDelete: "cascade" }),
    position: integer("position").notNull(),
    component: text("component").notNull(),
    description: text("description").notNull(),
    quantity: numeric("quantity", { precision: 20, scale: 3 }).notNull(),
    unitAmount: numeric("unit_amount", { precision: 20, scale: 4 }),
    amount: bigint("amount", { mode: "number" }).notNull(),
  },
  (t) => [uniqueIndex("invoice_lines_position_key").on(t.invoiceId, t.position)],
);

/** The last invoice number per organisation (see bill_number_sequences for why an UPDATE gives gap-free numbers). */
export const invoiceNumberSequences = pgTable("invoice_number_sequences", {
  orgId: text("org_id")
    .primaryKey()
    .references(() => organizations.id, { onDelete: "cascade" }),
  lastNumber: bigint("last_number", { mode: "number" }).notNull().default(0),
});
