import type { SqlPolicy } from "../sql-guard/check";

/**
 * The Billx tables an organisation may query about itself, as the restricted role `billx_analyst`
 * sees them: migration 0004_analytics_role grants SELECT on exactly these columns and row-level
 * security shows only the organisation's rows. The notes are written for the model; they are also
 * the contract tests/analytics-sql.test.ts checks the grants against.
 */
export interface AnalyticsColumn {
  name: string;
  type: string;
  note?: string;
}

export interface AnalyticsTable {
  name: string;
  about: string;
  columns: AnalyticsColumn[];
  /** Columns of the real table the role may not read, and why (none may be described above). */
  withheld?: string[];
}

const ORG = { name: "org_id", type: "text", note: "your organisation; every row you can see is yours, never filter on it" };
const MONEY = "integer minor units (cents)";
const created = (note = "when it happened, UTC"): AnalyticsColumn => ({ name: "created_at", type: "timestamptz", note });
const updated: AnalyticsColumn = { name: "updated_at", type: "timestamptz" };
const createdBy: AnalyticsColumn = { name: "created_by", type: "text", note: "id of the staff user who recorded it" };
/** A client's retry token for a POST: says nothing about the business and could replay the request. */
const IDEMPOTENCY = "idempotency_key";

export const ANALYTICS_TABLES: readonly AnalyticsTable[] = [
  {
    name: "customers",
    about: "People and businesses the organisation sells to. A customer's balance (what they owe) is SUM(customer_ledger.amount).",
    columns: [
      { name: "id", type: "text", note: "primary key" },
      ORG,
      { name: "name", type: "text" },
      { name: "phone", type: "text", note: "E.164" },
      { name: "email", type: "text" },
      { name: "address", type: "text" },
      { name: "credit_limit", type: "bigint", note: `${MONEY}; null = no limit` },
      { name: "tags", type: "text[]" },
      { name: "marketing_opt_out", type: "boolean", note: "true = texted STOP: no campaigns" },
      { name: "archived_at", type: "timestamptz", note: "null = active customer" },
      created("when the customer was added"),
      updated,
    ],
  },
  {
    name: "customer_ledger",
    about: "Append-only ledger of what each customer owes. amount > 0 means they owe more, < 0 means less.",
    columns: [
      { name: "id", type: "text", note: "primary key" },
      ORG,
      { name: "customer_id", type: "text", note: "-> customers.id" },
      { name: "kind", type: "text", note: "bill | payment | credit_note | refund | adjustment | opening_balance" },
      { name: "amount", type: "bigint", note: `signed, ${MONEY}` },
      { name: "reference_type", type: "text", note: "what the entry records, e.g. bill or customer_payment" },
      { name: "reference_id", type: "text", note: "id of that thing, e.g. bills.id" },
      { name: "note", type: "text" },
      created(),
    ],
  },
  {
    name: "customer_payments",
    about: "Money a customer paid on account; it is allocated to their unpaid bills as bill_payments rows.",
    columns: [
      { name: "id", type: "text", note: "primary key" },
      ORG,
      { name: "customer_id", type: "text", note: "-> customers.id" },
      { name: "amount", type: "bigint", note: MONEY },
      { name: "allocated", type: "bigint", note: `part that went to bills, ${MONEY}; amount - allocated became credit` },
      { name: "method", type: "text", note: "cash | card | upi | bank | stripe | other" },
      { name: "reference", type: "text" },
      createdBy,
      created(),
    ],
    withheld: [IDEMPOTENCY],
  },
  {
    name: "product_categories",
    about: "Product categories; a category may sit under another.",
    columns: [
      { name: "id", type: "text", note: "primary key" },
      ORG,
      { name: "name", type: "text" },
      { name: "parent_id", type: "text", note: "-> product_categories.id, null at the top" },
      created(),
      updated,
    ],
  },
  {
    name: "products",
    about: "What the organisation sells, with its current stock.",
    columns: [
      { name: "id", type: "text", note: "primary key" },
      ORG,
      { name: "name", type: "text" },
      { name: "sku", type: "text" },
      { name: "barcode", type: "text" },
      { name: "category_id", type: "text", note: "-> product_categories.id" },
      { name: "unit", type: "text", note: "piece | kg | g | l | ml | m | box | pack or a custom unit" },
      { name: "price", type: "bigint", note: `selling price per unit, ${MONEY}` },
      { name: "cost", type: "bigint", note: `buying cost per unit, ${MONEY}; may be null` },
      { name: "tax_rate_bps", type: "integer", note: "tax rate in basis points (1800 = 18%)" },
      { name: "stock_quantity", type: "numeric(14,3)", note: "units in stock now" },
      { name: "low_stock_threshold", type: "numeric(14,3)", note: "low stock when stock_quantity <= this; null = no alert" },
      { name: "low_stock_alerted_at", type: "timestamptz", note: "when owners were alerted of this low-stock crossing; null = not alerted" },
      { name: "archived_at", type: "timestamptz", note: "null = on sale" },
      created(),
      updated,
    ],
  },
  {
    name: "stock_movements",
    about: "Every change of a product's stock. Append-only.",
    columns: [
      { name: "id", type: "text", note: "primary key" },
      ORG,
      { name: "product_id", type: "text", note: "-> products.id" },
      { name: "change", type: "numeric(14,3)", note: "signed quantity: > 0 in, < 0 out" },
      { name: "reason", type: "text", note: "purchase | sale | return | correction | damage" },
      { name: "note", type: "text" },
      { name: "quantity_after", type: "numeric(14,3)", note: "stock right after this movement" },
      createdBy,
      created(),
    ],
  },
  {
    name: "bills",
    about:
      "Bills (invoices) to customers. Only issued bills count as sales: status IN ('issued','partially_paid','paid','refunded'); " +
      "drafts and void bills are not sales. Revenue of a bill is total - amount_refunded; what is still owed is total - amount_paid.",
    columns: [
      { name: "id", type: "text", note: "primary key" },
      ORG,
      { name: "number", type: "text", note: "BILL-000001, null until issued" },
      { name: "customer_id", type: "text", note: "-> customers.id; null for a walk-in sale" },
      { name: "status", type: "text", note: "draft | issued | partially_paid | paid | refunded | void" },
      { name: "currency", type: "text", note: "ISO 4217, e.g. USD" },
      { name: "subtotal", type: "bigint", note: `sum of line_subtotal, ${MONEY}` },
      { name: "discount", type: "bigint", note: `bill-level discount, ${MONEY}` },
      { name: "tax", type: "bigint", note: `sum of line_tax, ${MONEY}` },
      { name: "total", type: "bigint", note: `subtotal - discount + tax, ${MONEY}` },
      { name: "amount_paid", type: "bigint", note: MONEY },
      { name: "amount_refunded", type: "bigint", note: MONEY },
      { name: "prices_include_tax", type: "boolean" },
      { name: "due_date", type: "date" },
      { name: "notes", type: "text" },
      { name: "issued_at", type: "timestamptz", note: "the sale date; null for drafts" },
      { name: "voided_at", type: "timestamptz" },
      { name: "link_version", type: "integer", note: "internal: bumped when public links are revoked" },
      { name: "last_reminded_at", type: "timestamptz", note: "last overdue reminder sent" },
      createdBy,
      created("when the bill was drafted"),
      updated,
    ],
  },
  {
    name: "bill_items",
    about: "The lines of a bill. Join bills ON bills.id = bill_items.bill_id (filter bills.status for sales).",
    columns: [
      { name: "id", type: "text", note: "primary key" },
      { name: "bill_id", type: "text", note: "-> bills.id" },
      { name: "position", type: "integer", note: "1, 2, ... on the bill" },
      { name: "product_id", type: "text", note: "-> products.id; null for a free-text line" },
      { name: "description", type: "text" },
      { name: "quantity", type: "numeric(14,3)" },
      { name: "unit", type: "text" },
      { name: "unit_price", type: "bigint", note: MONEY },
      { name: "discount", type: "bigint", note: `line discount, ${MONEY}` },
      { name: "tax_rate_bps", type: "integer", note: "basis points" },
      { name: "line_subtotal", type: "bigint", note: MONEY },
      { name: "line_tax", type: "bigint", note: MONEY },
      { name: "line_total", type: "bigint", note: MONEY },
    ],
  },
  {
    name: "bill_payments",
    about: "Money received against a bill.",
    columns: [
      { name: "id", type: "text", note: "primary key" },
      { name: "bill_id", type: "text", note: "-> bills.id" },
      ORG,
      { name: "amount", type: "bigint", note: MONEY },
      { name: "method", type: "text", note: "cash | card | upi | bank | stripe | other | credit (from the customer's credit on account)" },
      { name: "reference", type: "text" },
      { name: "customer_payment_id", type: "text", note: "-> customer_payments.id when it came from a payment on account" },
      createdBy,
      created("when the money was received"),
    ],
    withheld: [IDEMPOTENCY],
  },
  {
    name: "bill_refunds",
    about: "Money given back on a paid bill.",
    columns: [
      { name: "id", type: "text", note: "primary key" },
      { name: "bill_id", type: "text", note: "-> bills.id" },
      ORG,
      { name: "amount", type: "bigint", note: MONEY },
      { name: "method", type: "text", note: "cash | card | upi | bank | stripe | other" },
      { name: "reason", type: "text" },
      { name: "restocked", type: "boolean", note: "the goods went back into stock" },
      createdBy,
      created(),
    ],
    withheld: [IDEMPOTENCY],
  },
  {
    name: "merchants",
    about: "Suppliers the organisation buys from. What it owes one is SUM(merchant_ledger.amount).",
    columns: [
      { name: "id", type: "text", note: "primary key" },
      ORG,
      { name: "name", type: "text" },
      { name: "phone", type: "text" },
      { name: "email", type: "text" },
      { name: "address", type: "text" },
      { name: "tax_id", type: "text" },
      { name: "notes", type: "text" },
      { name: "archived_at", type: "timestamptz" },
      created(),
      updated,
    ],
  },
  {
    name: "merchant_ledger",
    about: "Append-only ledger of what the organisation owes each merchant. amount > 0 means it owes more.",
    columns: [
      { name: "id", type: "text", note: "primary key" },
      ORG,
      { name: "merchant_id", type: "text", note: "-> merchants.id" },
      { name: "kind", type: "text", note: "purchase | payment | adjustment | opening_balance" },
      { name: "amount", type: "bigint", note: `signed, ${MONEY}` },
      { name: "reference_type", type: "text" },
      { name: "reference_id", type: "text" },
      { name: "note", type: "text" },
      created(),
    ],
  },
  {
    name: "merchant_purchases",
    about: "Goods bought from a merchant; each line added stock.",
    columns: [
      { name: "id", type: "text", note: "primary key" },
      ORG,
      { name: "merchant_id", type: "text", note: "-> merchants.id" },
      { name: "reference", type: "text", note: "the merchant's invoice number" },
      { name: "total", type: "bigint", note: MONEY },
      { name: "currency", type: "text" },
      { name: "notes", type: "text" },
      { name: "purchased_on", type: "date" },
      createdBy,
      created(),
    ],
    withheld: [IDEMPOTENCY],
  },
  {
    name: "merchant_purchase_items",
    about: "The lines of a purchase. Join merchant_purchases ON merchant_purchases.id = merchant_purchase_items.purchase_id.",
    columns: [
      { name: "id", type: "text", note: "primary key" },
      { name: "purchase_id", type: "text", note: "-> merchant_purchases.id" },
      { name: "position", type: "integer" },
      { name: "product_id", type: "text", note: "-> products.id" },
      { name: "quantity", type: "numeric(14,3)" },
      { name: "unit_cost", type: "bigint", note: MONEY },
      { name: "line_total", type: "bigint", note: MONEY },
    ],
  },
  {
    name: "merchant_payments",
    about: "Money the organisation paid a merchant.",
    columns: [
      { name: "id", type: "text", note: "primary key" },
      ORG,
      { name: "merchant_id", type: "text", note: "-> merchants.id" },
      { name: "amount", type: "bigint", note: MONEY },
      { name: "method", type: "text", note: "cash | card | upi | bank | stripe | other" },
      { name: "reference", type: "text" },
      createdBy,
      created(),
    ],
    withheld: [IDEMPOTENCY],
  },
  {
    name: "usage_events",
    about: "Paid AI work of the organisation (Billx's own metering): one row per settled piece of work.",
    columns: [
      { name: "id", type: "text", note: "primary key" },
      ORG,
      { name: "feature", type: "text", note: "e.g. ai.completions, ai.sql, query.chat" },
      { name: "provider", type: "text", note: "e.g. openai" },
      { name: "model", type: "text" },
      { name: "input_tokens", type: "integer" },
      { name: "output_tokens", type: "integer" },
      { name: "audio_seconds", type: "double precision" },
      { name: "characters", type: "integer" },
      { name: "credits", type: "integer", note: "Billx credits charged" },
      { name: "price_source", type: "text", note: "exact | prefix | provider_default" },
      { name: "reservation_id", type: "text" },
      created(),
    ],
  },
  {
    name: "api_usage",
    about: "One row per call of a metered Billx API route by the organisation.",
    columns: [
      { name: "id", type: "text", note: "primary key" },
      ORG,
      { name: "api_key_id", type: "text", note: "the API key used, if any" },
      { name: "user_id", type: "text", note: "the signed-in user, if any" },
      { name: "route", type: "text", note: "route pattern, e.g. /v1/ai/completions" },
      { name: "method", type: "text" },
      { name: "status", type: "integer", note: "HTTP status answered" },
      { name: "duration_ms", type: "integer" },
      { name: "credits", type: "integer" },
      created(),
    ],
  },
  {
    name: "credit_ledger",
    about: "Append-only ledger of the organisation's Billx credits. amount > 0 adds credits, < 0 spends them.",
    columns: [
      { name: "id", type: "text", note: "primary key" },
      ORG,
      { name: "kind", type: "text", note: "grant | purchase | usage | refund | expiry | adjustment | reservation | release" },
      { name: "amount", type: "integer", note: "signed credits" },
      { name: "balance_after", type: "integer" },
      { name: "reference_type", type: "text" },
      { name: "reference_id", type: "text" },
      { name: "note", type: "text" },
      { name: "actor_user_id", type: "text" },
      created(),
    ],
  },
  {
    name: "credit_balances",
    about: "The organisation's current Billx credit balance (one row).",
    columns: [ORG, { name: "balance", type: "integer", note: "credits" }, updated],
  },
];

/** What the SQL guard lets own-data SQL read: the curated tables of `public`, nothing else. */
export const ANALYTICS_POLICY: SqlPolicy = {
  allowedSchemas: ["public"],
  allowedTables: ANALYTICS_TABLES.map((table) => `public.${table.name}`),
  defaultSchema: "public",
};

/** The curated schema as commented DDL, the form models read most reliably. */
export function describeAnalyticsSchema(): string {
  return ANALYTICS_TABLES.map((table) => {
    const width = Math.max(...table.columns.map((c) => c.name.length));
    const columns = table.columns.map((c, i) => {
      const comma = i < table.columns.length - 1 ? "," : "";
      const definition = `  ${c.name.padEnd(width)} ${c.type}${comma}`;
      return c.note ? `${definition} -- ${c.note}` : definition;
    });
    return [`-- ${table.about}`, `CREATE TABLE ${table.name} (`, ...columns, ");"].join("\n");
  }).join("\n\n");
}
