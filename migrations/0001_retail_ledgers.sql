CREATE TABLE "bill_refunds" (
	"id" text PRIMARY KEY NOT NULL,
	"bill_id" text NOT NULL,
	"amount" bigint NOT NULL,
	"method" text NOT NULL,
	"reason" text,
	"restocked" boolean DEFAULT false NOT NULL,
	"idempotency_key" text,
	"created_by" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "bill_refunds_amount_positive" CHECK ("bill_refunds"."amount" > 0)
);
--> statement-breakpoint
CREATE TABLE "customer_payments" (
	"id" text PRIMARY KEY NOT NULL,
	"org_id" text NOT NULL,
	"customer_id" text NOT NULL,
	"amount" bigint NOT NULL,
	"allocated" bigint NOT NULL,
	"method" text NOT NULL,
	"reference" text,
	"idempotency_key" text,
	"created_by" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "customer_payments_amount_positive" CHECK ("customer_payments"."amount" > 0)
);
--> statement-breakpoint
CREATE TABLE "merchant_ledger" (
	"id" text PRIMARY KEY NOT NULL,
	"org_id" text NOT NULL,
	"merchant_id" text NOT NULL,
	"kind" text NOT NULL,
	"amount" bigint NOT NULL,
	"reference_type" text,
	"reference_id" text,
	"note" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "merchant_payments" (
	"id" text PRIMARY KEY NOT NULL,
	"org_id" text NOT NULL,
	"merchant_id" text NOT NULL,
	"amount" bigint NOT NULL,
	"method" text NOT NULL,
	"reference" text,
	"idempotency_key" text,
	"created_by" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "merchant_payments_amount_positive" CHECK ("merchant_payments"."amount" > 0)
);
--> statement-breakpoint
CREATE TABLE "merchant_purchase_items" (
	"id" text PRIMARY KEY NOT NULL,
	"purchase_id" text NOT NULL,
	"position" integer NOT NULL,
	"product_id" text NOT NULL,
	"quantity" numeric(14, 3) NOT NULL,
	"unit_cost" bigint NOT NULL,
	"line_total" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "merchant_purchases" (
	"id" text PRIMARY KEY NOT NULL,
	"org_id" text NOT NULL,
	"merchant_id" text NOT NULL,
	"reference" text,
	"total" bigint NOT NULL,
	"currency" text NOT NULL,
	"notes" text,
	"purchased_on" date NOT NULL,
	"idempotency_key" text,
	"created_by" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "bill_payments" ADD COLUMN "customer_payment_id" text;--> statement-breakpoint
ALTER TABLE "bills" ADD COLUMN "amount_refunded" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "bills" ADD COLUMN "prices_include_tax" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "bills" ADD COLUMN "link_version" integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE "bills" ADD COLUMN "last_reminded_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "organizations" ADD COLUMN "prices_include_tax" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "organizations" ADD COLUMN "allow_negative_stock" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "bill_refunds" ADD CONSTRAINT "bill_refunds_bill_id_bills_id_fk" FOREIGN KEY ("bill_id") REFERENCES "public"."bills"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "bill_refunds" ADD CONSTRAINT "bill_refunds_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "customer_payments" ADD CONSTRAINT "customer_payments_org_id_organizations_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."organizations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "customer_payments" ADD CONSTRAINT "customer_payments_customer_id_customers_id_fk" FOREIGN KEY ("customer_id") REFERENCES "public"."customers"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "customer_payments" ADD CONSTRAINT "customer_payments_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "merchant_ledger" ADD CONSTRAINT "merchant_ledger_org_id_organizations_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."organizations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "merchant_ledger" ADD CONSTRAINT "merchant_ledger_merchant_id_merchants_id_fk" FOREIGN KEY ("merchant_id") REFERENCES "public"."merchants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "merchant_payments" ADD CONSTRAINT "merchant_payments_org_id_organizations_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."organizations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "merchant_payments" ADD CONSTRAINT "merchant_payments_merchant_id_merchants_id_fk" FOREIGN KEY ("merchant_id") REFERENCES "public"."merchants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "merchant_payments" ADD CONSTRAINT "merchant_payments_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "merchant_purchase_items" ADD CONSTRAINT "merchant_purchase_items_purchase_id_merchant_purchases_id_fk" FOREIGN KEY ("purchase_id") REFERENCES "public"."merchant_purchases"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "merchant_purchase_items" ADD CONSTRAINT "merchant_purchase_items_product_id_products_id_fk" FOREIGN KEY ("product_id") REFERENCES "public"."products"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "merchant_purchases" ADD CONSTRAINT "merchant_purchases_org_id_organizations_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."organizations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "merchant_purchases" ADD CONSTRAINT "merchant_purchases_merchant_id_merchants_id_fk" FOREIGN KEY ("merchant_id") REFERENCES "public"."merchants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "merchant_purchases" ADD CONSTRAINT "merchant_purchases_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "bill_refunds_bill_idempotency_key" ON "bill_refunds" USING btree ("bill_id","idempotency_key");--> statement-breakpoint
CREATE INDEX "bill_refunds_bill_idx" ON "bill_refunds" USING btree ("bill_id","id");--> statement-breakpoint
CREATE INDEX "customer_payments_customer_idx" ON "customer_payments" USING btree ("org_id","customer_id","id");--> statement-breakpoint
CREATE UNIQUE INDEX "customer_payments_idempotency_key" ON "customer_payments" USING btree ("org_id","customer_id","idempotency_key");--> statement-breakpoint
CREATE INDEX "merchant_ledger_merchant_idx" ON "merchant_ledger" USING btree ("org_id","merchant_id","id");--> statement-breakpoint
CREATE UNIQUE INDEX "merchant_ledger_reference_key" ON "merchant_ledger" USING btree ("org_id","kind","reference_type","reference_id");--> statement-breakpoint
CREATE INDEX "merchant_payments_merchant_idx" ON "merchant_payments" USING btree ("org_id","merchant_id","id");--> statement-breakpoint
CREATE UNIQUE INDEX "merchant_payments_idempotency_key" ON "merchant_payments" USING btree ("org_id","idempotency_key");--> statement-breakpoint
CREATE UNIQUE INDEX "merchant_purchase_items_position_key" ON "merchant_purchase_items" USING btree ("purchase_id","position");--> statement-breakpoint
CREATE INDEX "merchant_purchases_merchant_idx" ON "merchant_purchases" USING btree ("org_id","merchant_id","id");--> statement-breakpoint
CREATE UNIQUE INDEX "merchant_purchases_idempotency_key" ON "merchant_purchases" USING btree ("org_id","idempotency_key");--> statement-breakpoint
ALTER TABLE "bill_payments" ADD CONSTRAINT "bill_payments_customer_payment_id_customer_payments_id_fk" FOREIGN KEY ("customer_payment_id") REFERENCES "public"."customer_payments"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "bill_payments_created_idx" ON "bill_payments" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "bills_org_issued_idx" ON "bills" USING btree ("org_id","issued_at");--> statement-breakpoint
CREATE INDEX "bills_overdue_idx" ON "bills" USING btree ("due_date") WHERE "bills"."status" in ('issued', 'partially_paid');--> statement-breakpoint
CREATE UNIQUE INDEX "customer_ledger_reference_key" ON "customer_ledger" USING btree ("org_id","kind","reference_type","reference_id");--> statement-breakpoint
ALTER TABLE "bills" ADD CONSTRAINT "bills_amount_paid_within_total" CHECK ("bills"."amount_paid" <= "bills"."total");--> statement-breakpoint
ALTER TABLE "bills" ADD CONSTRAINT "bills_amount_refunded_within_paid" CHECK ("bills"."amount_refunded" >= 0 AND "bills"."amount_refunded" <= "bills"."amount_paid");