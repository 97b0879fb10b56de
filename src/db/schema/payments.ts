import { bigint, index, pgTable, text, timestamp } from "drizzle-orm/pg-core";
import { organizations } from "./tenancy";

/** An organisation's customer at Stripe: created at its first checkout, then reused for every payment and the portal. */
export const stripeCustomers = pgTable("stripe_customers", {
  orgId: text("org_id")
    .primaryKey()
    .references(() => organizations.id, { onDelete: "cascade" }),
  customerId: text("customer_id").notNull().unique(),
  createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
});

/** Stripe's subscription statuses, stored as Stripe reports them. */
export const SUBSCRIPTION_STATUSES = ["incomplete", "incomplete_expired", "trialing", "active", "past_due", "canceled", "unpaid", "paused"] as const;

/** A plan subscription at Stripe, as its webhooks last described it. */
export const subscriptions = pgTable(
  "subscriptions",
  {
    stripeSubscriptionId: text("stripe_subscription_id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    stripeCustomerId: text("stripe_customer_id").notNull(),
    /** A paid plan name (`basic`, `pro`). */
    plan: text("plan").notNull(),
    status: text("status", { enum: SUBSCRIPTION_STATUSES }).notNull(),
    currentPeriodEnd: timestamp("current_period_end", { withTimezone: true, mode: "date" }),
    /**
     * `created` (unix seconds) of the Stripe event that last changed this row. Stripe does not
     * deliver events in order, so an older event never overwrites what a newer one set.
     */
    lastEventAt: bigint("last_event_at", { mode: "number" }).notNull(),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [index("subscriptions_org_idx").on(t.orgId)],
);

/**
 * Every Stripe event received, by its id: inserted in the same transaction that applies the
 * event, so a redelivery finds it and changes nothing, and a failed attempt leaves no row.
 */
export const stripeEvents = pgTable("stripe_events", {
  id: text("id").primaryKey(),
  type: text("type").notNull(),
  receivedAt: timestamp("received_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  processedAt: timestamp("processed_at", { withTimezone: true, mode: "date" }),
});
