import { sql } from "drizzle-orm";
import { check, doublePrecision, index, integer, pgTable, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";
import { organizations } from "./tenancy";

/**
 * Kinds of ledger entry. Positive amounts add credits, negative ones take them away:
 * `reservation` holds credits for work in progress, `release` gives a hold back, `usage` is what
 * settled work cost.
 */
export const CREDIT_ENTRY_KINDS = ["grant", "purchase", "usage", "refund", "expiry", "adjustment", "reservation", "release"] as const;
export type CreditEntryKind = (typeof CREDIT_ENTRY_KINDS)[number];

export const RESERVATION_STATUSES = ["held", "settled", "released", "expired"] as const;
export type ReservationStatus = (typeof RESERVATION_STATUSES)[number];

/**
 * One row per organisation: the sum of its ledger entries, kept beside the ledger so a debit is
 * one conditional UPDATE of one row. Created lazily with the free plan's allowance
 * (src/modules/money/credits/ledger.ts).
 */
export const creditBalances = pgTable(
  "credit_balances",
  {
    orgId: text("org_id")
      .primaryKey()
      .references(() => organizations.id, { onDelete: "cascade" }),
    balance: integer("balance").notNull().default(0),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  // The last line of defence: a bug that debits without the conditional UPDATE fails loudly.
  (t) => [check("credit_balances_non_negative", sql`${t.balance} >= 0`)],
);

/**
 * The append-only credit ledger: nothing updates or deletes a row. Every entry names what caused
 * it (`reference_type`/`reference_id`: a Stripe event, a reservation, a plan period), and the
 * unique index makes each cause count once per kind, so a redelivered webhook is a no-op.
 */
export const creditLedger = pgTable(
  "credit_ledger",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    kind: text("kind", { enum: CREDIT_ENTRY_KINDS }).notNull(),
    /** Signed: what this entry did to the balance. */
    amount: integer("amount").notNull(),
    /** The balance right after this entry. */
    balanceAfter: integer("balance_after").notNull(),
    referenceType: text("reference_type").notNull(),
    referenceId: text("reference_id").notNull(),
    note: text("note"),
    actorUserId: text("actor_user_id"),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex("credit_ledger_reference_key").on(t.orgId, t.kind, t.referenceType, t.referenceId), index("credit_ledger_org_idx").on(t.orgId, t.id)],
);

/** Credits held for work in progress, settled with the actual cost or released when it fails. */
export const creditReservations = pgTable(
  "credit_reservations",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    feature: text("feature").notNull(),
    amount: integer("amount").notNull(),
    status: text("status", { enum: RESERVATION_STATUSES }).notNull().default("held"),
    /** What settling charged; null until settled. */
    charged: integer("charged"),
    expiresAt: timestamp("expires_at", { withTimezone: true, mode: "date" }).notNull(),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    finishedAt: timestamp("finished_at", { withTimezone: true, mode: "date" }),
  },
  (t) => [
    index("credit_reservations_org_idx").on(t.orgId, t.id),
    // The reclaim job only ever looks at held rows.
    index("credit_reservations_held_expiry_idx").on(t.expiresAt).where(sql`${t.status} = 'held'`),
  ],
);

/** What one piece of paid work consumed and cost, written when it is settled. */
export const usageEvents = pgTable(
  "usage_events",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    feature: text("feature").notNull(),
    provider: text("provider").notNull(),
    model: text("model").notNull(),
    inputTokens: integer("input_tokens").notNull().default(0),
    outputTokens: integer("output_tokens").notNull().default(0),
    audioSeconds: doublePrecision("audio_seconds").notNull().default(0),
    characters: integer("characters").notNull().default(0),
    credits: integer("credits").notNull(),
    /** How the price was found: `exact`, `prefix` or `provider_default`. */
    priceSource: text("price_source", { enum: ["exact", "prefix", "provider_default"] }).notNull(),
    reservationId: text("reservation_id"),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [index("usage_events_org_created_idx").on(t.orgId, t.createdAt)],
);

/** One row per call of a metered API route. */
export const apiUsage = pgTable(
  "api_usage",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    apiKeyId: text("api_key_id"),
    userId: text("user_id"),
    /** The route pattern (`/v1/ai/completions`), not the concrete path. */
    route: text("route").notNull(),
    method: text("method").notNull(),
    status: integer("status").notNull(),
    durationMs: integer("duration_ms").notNull(),
    credits: integer("credits").notNull().default(0),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [index("api_usage_org_created_idx").on(t.orgId, t.createdAt)],
);
