DROP INDEX "bill_payments_created_idx";--> statement-breakpoint
-- Hand-edited: rows already there take their bill's organisation before the column turns NOT NULL.
ALTER TABLE "bill_payments" ADD COLUMN "org_id" text;--> statement-breakpoint
UPDATE "bill_payments" p SET "org_id" = b."org_id" FROM "bills" b WHERE b."id" = p."bill_id";--> statement-breakpoint
ALTER TABLE "bill_payments" ALTER COLUMN "org_id" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "bill_refunds" ADD COLUMN "org_id" text;--> statement-breakpoint
UPDATE "bill_refunds" r SET "org_id" = b."org_id" FROM "bills" b WHERE b."id" = r."bill_id";--> statement-breakpoint
ALTER TABLE "bill_refunds" ALTER COLUMN "org_id" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "bill_payments" ADD CONSTRAINT "bill_payments_org_id_organizations_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."organizations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "bill_refunds" ADD CONSTRAINT "bill_refunds_org_id_organizations_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."organizations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "bill_payments_org_created_idx" ON "bill_payments" USING btree ("org_id","created_at");--> statement-breakpoint
CREATE INDEX "bill_refunds_org_created_idx" ON "bill_refunds" USING btree ("org_id","created_at");--> statement-breakpoint
CREATE INDEX "bills_org_open_idx" ON "bills" USING btree ("org_id") WHERE "bills"."status" in ('issued', 'partially_paid');