import { sql } from "drizzle-orm";
import { boolean, index, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";

const timestamps = {
  createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
};

/** What `organizations.settings` holds; unset keys fall back to the platform's defaults. */
export interface OrgSettingsRecord {
  speech?: { provider?: "openai" | "elevenlabs"; stt_model?: string; tts_model?: string; voice?: string };
  /** Messages that go out by themselves; each is on unless set to false. */
  messages?: { payment_receipts?: boolean };
  /** Retail bills' defaults; the currency and tax-inclusive pricing are the organisation's own columns. */
  bills?: { default_tax_rate_bps?: number; footer?: string; reminder_interval_days?: number };
  /** The chat model the organisation's model-backed agents use unless one is configured for them. */
  llm?: { provider: "openai" | "anthropic" | "google" | "xai"; model: string };
}

/** Organisations are the tenants: every tenant-owned row carries an `org_id`. */
export const organizations = pgTable("organizations", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  currency: text("currency").notNull().default("USD"),
  /** Retail: product prices already contain their tax (see src/modules/retail/bills/money.ts). */
  pricesIncludeTax: boolean("prices_include_tax").notNull().default(false),
  /** Retail: stock may go below zero (sell first, count later) instead of refusing the sale. */
  allowNegativeStock: boolean("allow_negative_stock").notNull().default(false),
  /** Per-organisation choices of other modules (speech defaults, ...), shape in src/modules/identity/org-settings/schemas.ts. */
  settings: jsonb("settings").$type<OrgSettingsRecord>().notNull().default({}),
  ...timestamps,
});

export const users = pgTable(
  "users",
  {
    id: text("id").primaryKey(),
    email: text("email").notNull(),
    name: text("name").notNull(),
    phone: text("phone"),
    /** `pbkdf2-sha256$<iterations>$<salt b64>$<hash b64>`: algorithm and cost travel with the hash. Null for OAuth-only users. */
    passwordHash: text("password_hash"),
    emailVerifiedAt: timestamp("email_verified_at", { withTimezone: true, mode: "date" }),
    /** Platform staff: may act across organisations for support; every such action is audited. */
    isSuperAdmin: boolean("is_super_admin").notNull().default(false),
    ...timestamps,
  },
  (t) => [uniqueIndex("users_email_key").on(sql`lower(${t.email})`), uniqueIndex("users_phone_key").on(t.phone)],
);

/**
 * A user's place in an organisation. `role` is a system role (`owner|admin|member|viewer`) or the
 * id of a custom role of the same organisation.
 */
export const memberships = pgTable(
  "memberships",
  {
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    role: text("role").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.userId] }), index("memberships_user_idx").on(t.userId)],
);

/** Custom roles of one organisation: a named set of permission strings. */
export const roles = pgTable(
  "roles",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    description: text("description"),
    permissions: text("permissions").array().notNull(),
    ...timestamps,
  },
  (t) => [uniqueIndex("roles_org_name_key").on(t.orgId, sql`lower(${t.name})`)],
);

/** Pending invitations to join an organisation; the token travels by email and is stored hashed. */
export const invitations = pgTable(
  "invitations",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    email: text("email").notNull(),
    role: text("role").notNull(),
    tokenHash: text("token_hash").notNull().unique(),
    invitedBy: text("invited_by").references(() => users.id, { onDelete: "set null" }),
    expiresAt: timestamp("expires_at", { withTimezone: true, mode: "date" }).notNull(),
    acceptedAt: timestamp("accepted_at", { withTimezone: true, mode: "date" }),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [index("invitations_org_idx").on(t.orgId)],
);
