-- Hand-written: the role own-data analytics (/v1/ai/sql/execute) runs as. It reads only the retail
-- and metering tables below, and row-level security shows it only the rows of the organisation
-- named by the transaction-local setting billx.org_id, so SQL without an org filter still sees one
-- organisation. Kept in step with src/modules/analytics-sql/catalog.ts (tests/analytics-sql.test.ts
-- compares the two).
--
-- Safe to run on a server that already has the role: roles are cluster-wide, while grants and
-- policies belong to each database (the test suite migrates one template per run on a shared server).
--
-- No FORCE ROW LEVEL SECURITY: the app's own role owns these tables and keeps reading every row;
-- only billx_analyst (and any other role without a policy) is filtered.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'billx_analyst') THEN
    CREATE ROLE billx_analyst NOLOGIN;
  END IF;
EXCEPTION
  -- Another database on the same server created it between the check and the CREATE.
  WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;--> statement-breakpoint
-- The app switches to the role with SET LOCAL ROLE, which needs membership with the SET option
-- (Postgres 16+; a role that created it without being superuser holds only ADMIN). Granted only
-- when missing: a role without ADMIN on an existing billx_analyst cannot grant it to itself.
DO $$
BEGIN
  IF NOT pg_has_role(current_user, 'billx_analyst', CASE WHEN current_setting('server_version_num')::int >= 160000 THEN 'SET' ELSE 'MEMBER' END) THEN
    EXECUTE format('GRANT billx_analyst TO %I', current_user);
  END IF;
EXCEPTION
  WHEN insufficient_privilege THEN
    RAISE EXCEPTION 'role billx_analyst exists but % may not use it; a superuser must run: GRANT billx_analyst TO %', current_user, current_user;
END
$$;--> statement-breakpoint
-- Exactly the curated list below, whatever this database granted the role before.
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM billx_analyst;--> statement-breakpoint
GRANT USAGE ON SCHEMA public TO billx_analyst;--> statement-breakpoint
-- Column-level grants everywhere, so a column added later stays hidden until someone grants it.
-- Withheld: idempotency keys (a client's retry tokens). Not granted at all: users, sessions, tokens,
-- API keys, invitations, OTP and reset codes, OAuth state, linked databases and their queries,
-- messages (they carry sign-in codes), audit events, Stripe and everything else not listed here.
GRANT SELECT (id, org_id, name, phone, email, address, credit_limit, tags, archived_at, created_at, updated_at) ON customers TO billx_analyst;--> statement-breakpoint
GRANT SELECT (id, org_id, customer_id, kind, amount, reference_type, reference_id, note, created_at) ON customer_ledger TO billx_analyst;--> statement-breakpoint
GRANT SELECT (id, org_id, customer_id, amount, allocated, method, reference, created_by, created_at) ON customer_payments TO billx_analyst;--> statement-breakpoint
GRANT SELECT (id, org_id, name, parent_id, created_at, updated_at) ON product_categories TO billx_analyst;--> statement-breakpoint
GRANT SELECT (id, org_id, name, sku, barcode, category_id, unit, price, cost, tax_rate_bps, stock_quantity, low_stock_threshold, archived_at, created_at, updated_at) ON products TO billx_analyst;--> statement-breakpoint
GRANT SELECT (id, org_id, product_id, change, reason, note, quantity_after, created_by, created_at) ON stock_movements TO billx_analyst;--> statement-breakpoint
GRANT SELECT (id, org_id, number, customer_id, status, currency, subtotal, discount, tax, total, amount_paid, amount_refunded, prices_include_tax, due_date, notes, issued_at, voided_at, link_version, last_reminded_at, created_by, created_at, updated_at) ON bills TO billx_analyst;--> statement-breakpoint
GRANT SELECT (id, bill_id, position, product_id, description, quantity, unit, unit_price, discount, tax_rate_bps, line_subtotal, line_tax, line_total) ON bill_items TO billx_analyst;--> statement-breakpoint
GRANT SELECT (id, bill_id, org_id, amount, method, reference, customer_payment_id, created_by, created_at) ON bill_payments TO billx_analyst;--> statement-breakpoint
GRANT SELECT (id, bill_id, org_id, amount, method, reason, restocked, created_by, created_at) ON bill_refunds TO billx_analyst;--> statement-breakpoint
GRANT SELECT (id, org_id, name, phone, email, address, tax_id, notes, archived_at, created_at, updated_at) ON merchants TO billx_analyst;--> statement-breakpoint
GRANT SELECT (id, org_id, merchant_id, kind, amount, reference_type, reference_id, note, created_at) ON merchant_ledger TO billx_analyst;--> statement-breakpoint
GRANT SELECT (id, org_id, merchant_id, reference, total, currency, notes, purchased_on, created_by, created_at) ON merchant_purchases TO billx_analyst;--> statement-breakpoint
GRANT SELECT (id, purchase_id, position, product_id, quantity, unit_cost, line_total) ON merchant_purchase_items TO billx_analyst;--> statement-breakpoint
GRANT SELECT (id, org_id, merchant_id, amount, method, reference, created_by, created_at) ON merchant_payments TO billx_analyst;--> statement-breakpoint
GRANT SELECT (id, org_id, feature, provider, model, input_tokens, output_tokens, audio_seconds, characters, credits, price_source, reservation_id, created_at) ON usage_events TO billx_analyst;--> statement-breakpoint
GRANT SELECT (id, org_id, api_key_id, user_id, route, method, status, duration_ms, credits, created_at) ON api_usage TO billx_analyst;--> statement-breakpoint
GRANT SELECT (id, org_id, kind, amount, balance_after, reference_type, reference_id, note, actor_user_id, created_at) ON credit_ledger TO billx_analyst;--> statement-breakpoint
GRANT SELECT (org_id, balance, updated_at) ON credit_balances TO billx_analyst;--> statement-breakpoint
-- Without the setting (or with it empty) the policies match nothing.
ALTER TABLE customers ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
DROP POLICY IF EXISTS billx_analyst_own_org ON customers;--> statement-breakpoint
CREATE POLICY billx_analyst_own_org ON customers FOR SELECT TO billx_analyst USING (org_id = nullif(current_setting('billx.org_id', true), ''));--> statement-breakpoint
ALTER TABLE customer_ledger ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
DROP POLICY IF EXISTS billx_analyst_own_org ON customer_ledger;--> statement-breakpoint
CREATE POLICY billx_analyst_own_org ON customer_ledger FOR SELECT TO billx_analyst USING (org_id = nullif(current_setting('billx.org_id', true), ''));--> statement-breakpoint
ALTER TABLE customer_payments ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
DROP POLICY IF EXISTS billx_analyst_own_org ON customer_payments;--> statement-breakpoint
CREATE POLICY billx_analyst_own_org ON customer_payments FOR SELECT TO billx_analyst USING (org_id = nullif(current_setting('billx.org_id', true), ''));--> statement-breakpoint
ALTER TABLE product_categories ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
DROP POLICY IF EXISTS billx_analyst_own_org ON product_categories;--> statement-breakpoint
CREATE POLICY billx_analyst_own_org ON product_categories FOR SELECT TO billx_analyst USING (org_id = nullif(current_setting('billx.org_id', true), ''));--> statement-breakpoint
ALTER TABLE products ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
DROP POLICY IF EXISTS billx_analyst_own_org ON products;--> statement-breakpoint
CREATE POLICY billx_analyst_own_org ON products FOR SELECT TO billx_analyst USING (org_id = nullif(current_setting('billx.org_id', true), ''));--> statement-breakpoint
ALTER TABLE stock_movements ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
DROP POLICY IF EXISTS billx_analyst_own_org ON stock_movements;--> statement-breakpoint
CREATE POLICY billx_analyst_own_org ON stock_movements FOR SELECT TO billx_analyst USING (org_id = nullif(current_setting('billx.org_id', true), ''));--> statement-breakpoint
ALTER TABLE bills ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
DROP POLICY IF EXISTS billx_analyst_own_org ON bills;--> statement-breakpoint
CREATE POLICY billx_analyst_own_org ON bills FOR SELECT TO billx_analyst USING (org_id = nullif(current_setting('billx.org_id', true), ''));--> statement-breakpoint
-- Lines carry no org_id: a line is visible when its bill is (the sub-query is itself filtered by bills' policy).
ALTER TABLE bill_items ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
DROP POLICY IF EXISTS billx_analyst_own_org ON bill_items;--> statement-breakpoint
CREATE POLICY billx_analyst_own_org ON bill_items FOR SELECT TO billx_analyst USING (EXISTS (SELECT 1 FROM bills b WHERE b.id = bill_items.bill_id AND b.org_id = nullif(current_setting('billx.org_id', true), '')));--> statement-breakpoint
ALTER TABLE bill_payments ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
DROP POLICY IF EXISTS billx_analyst_own_org ON bill_payments;--> statement-breakpoint
CREATE POLICY billx_analyst_own_org ON bill_payments FOR SELECT TO billx_analyst USING (org_id = nullif(current_setting('billx.org_id', true), ''));--> statement-breakpoint
ALTER TABLE bill_refunds ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
DROP POLICY IF EXISTS billx_analyst_own_org ON bill_refunds;--> statement-breakpoint
CREATE POLICY billx_analyst_own_org ON bill_refunds FOR SELECT TO billx_analyst USING (org_id = nullif(current_setting('billx.org_id', true), ''));--> statement-breakpoint
ALTER TABLE merchants ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
DROP POLICY IF EXISTS billx_analyst_own_org ON merchants;--> statement-breakpoint
CREATE POLICY billx_analyst_own_org ON merchants FOR SELECT TO billx_analyst USING (org_id = nullif(current_setting('billx.org_id', true), ''));--> statement-breakpoint
ALTER TABLE merchant_ledger ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
DROP POLICY IF EXISTS billx_analyst_own_org ON merchant_ledger;--> statement-breakpoint
CREATE POLICY billx_analyst_own_org ON merchant_ledger FOR SELECT TO billx_analyst USING (org_id = nullif(current_setting('billx.org_id', true), ''));--> statement-breakpoint
ALTER TABLE merchant_purchases ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
DROP POLICY IF EXISTS billx_analyst_own_org ON merchant_purchases;--> statement-breakpoint
CREATE POLICY billx_analyst_own_org ON merchant_purchases FOR SELECT TO billx_analyst USING (org_id = nullif(current_setting('billx.org_id', true), ''));--> statement-breakpoint
-- Purchase lines carry no org_id either: visible through their purchase.
ALTER TABLE merchant_purchase_items ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
DROP POLICY IF EXISTS billx_analyst_own_org ON merchant_purchase_items;--> statement-breakpoint
CREATE POLICY billx_analyst_own_org ON merchant_purchase_items FOR SELECT TO billx_analyst USING (EXISTS (SELECT 1 FROM merchant_purchases p WHERE p.id = merchant_purchase_items.purchase_id AND p.org_id = nullif(current_setting('billx.org_id', true), '')));--> statement-breakpoint
ALTER TABLE merchant_payments ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
DROP POLICY IF EXISTS billx_analyst_own_org ON merchant_payments;--> statement-breakpoint
CREATE POLICY billx_analyst_own_org ON merchant_payments FOR SELECT TO billx_analyst USING (org_id = nullif(current_setting('billx.org_id', true), ''));--> statement-breakpoint
ALTER TABLE usage_events ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
DROP POLICY IF EXISTS billx_analyst_own_org ON usage_events;--> statement-breakpoint
CREATE POLICY billx_analyst_own_org ON usage_events FOR SELECT TO billx_analyst USING (org_id = nullif(current_setting('billx.org_id', true), ''));--> statement-breakpoint
ALTER TABLE api_usage ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
DROP POLICY IF EXISTS billx_analyst_own_org ON api_usage;--> statement-breakpoint
CREATE POLICY billx_analyst_own_org ON api_usage FOR SELECT TO billx_analyst USING (org_id = nullif(current_setting('billx.org_id', true), ''));--> statement-breakpoint
ALTER TABLE credit_ledger ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
DROP POLICY IF EXISTS billx_analyst_own_org ON credit_ledger;--> statement-breakpoint
CREATE POLICY billx_analyst_own_org ON credit_ledger FOR SELECT TO billx_analyst USING (org_id = nullif(current_setting('billx.org_id', true), ''));--> statement-breakpoint
ALTER TABLE credit_balances ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
DROP POLICY IF EXISTS billx_analyst_own_org ON credit_balances;--> statement-breakpoint
CREATE POLICY billx_analyst_own_org ON credit_balances FOR SELECT TO billx_analyst USING (org_id = nullif(current_setting('billx.org_id', true), ''));
