import { bigint, date, index, numeric, pgTable, primaryKey, text } from "drizzle-orm/pg-core";
import { AGENT_EVENT_KINDS, agents } from "./monetisation";
import { organizations } from "./tenancy";

/**
 * Daily roll-ups, kept by Postgres triggers in the same transaction as the rows they sum
 * (migrations/0015_daily_rollups.sql), so reports read a few hundred rows instead of millions.
 * A day is a UTC date. Never written by the app; `npm run rollups:rebuild` recomputes them
 * from the raw rows. Not in the analytics catalog: the analyst role sees only raw tables.
 */

/**
 * The dashboard summary's figures per organisation and UTC day, each by the day its source row
 * counts on: revenue, bill_count and outstanding by the bill's issued_at (outstanding by
 * created_at for an open bill without one), payments, money on account and refunds by their
 * created_at, new customers by theirs. Definitions are those of the summary (dashboard/schemas.ts).
 */
export const retailDailyTotals = pgTable(
  "retail_daily_totals",
  {
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    day: date("day", { mode: "string" }).notNull(),
    /** Σ(total − amount_refunded) of bills issued that day and not draft or void. */
    revenue: bigint("revenue", { mode: "number" }).notNull().default(0),
    billCount: bigint("bill_count", { mode: "number" }).notNull().default(0),
    /** Σ(total − amount_paid) of those bills that are issued or partially paid now. */
    outstanding: bigint("outstanding", { mode: "number" }).notNull().default(0),
    /** Σ amount of bill payments made that day, except those paid from credit on account. */
    billPayments: bigint("bill_payments", { mode: "number" }).notNull().default(0),
    /** Σ(amount − allocated) of payments on account received that day. */
    unallocated: bigint("unallocated", { mode: "number" }).notNull().default(0),
    refunds: bigint("refunds", { mode: "number" }).notNull().default(0),
    newCustomers: bigint("new_customers", { mode: "number" }).notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.day] })],
);

/**
 * agent_events summed per organisation, agent, kind, type, currency and UTC day of occurred_at
 * (a late event adds to the day it happened on). `currency` is upper-cased, '' for none (the API
 * only takes three-letter codes). The sums are what `calculate` prices (billing-models/usage.ts).
 */
export const agentEventDailyTotals = pgTable(
  "agent_event_daily_totals",
  {
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    agentId: text("agent_id")
      .notNull()
      .references(() => agents.id, { onDelete: "cascade" }),
    day: date("day", { mode: "string" }).notNull(),
    kind: text("kind", { enum: AGENT_EVENT_KINDS }).notNull(),
    type: text("type").notNull(),
    currency: text("currency").notNull(),
    events: bigint("events", { mode: "number" }).notNull().default(0),
    /** Σ quantity of activities. */
    quantity: numeric("quantity", { precision: 38, scale: 3 }).notNull().default("0"),
    /** Successful outcomes, and Σ value over them. */
    successes: bigint("successes", { mode: "number" }).notNull().default(0),
    value: bigint("value", { mode: "number" }).notNull().default(0),
    /** Σ amount of costs. */
    amount: bigint("amount", { mode: "number" }).notNull().default(0),
  },
  (t) => [
    primaryKey({ columns: [t.orgId, t.agentId, t.day, t.kind, t.type, t.currency] }),
    // A whole organisation's period (calculate without an agent) reads by day across its agents.
    index("agent_event_daily_totals_org_day_idx").on(t.orgId, t.day),
  ],
);
