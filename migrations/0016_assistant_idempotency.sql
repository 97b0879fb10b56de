ALTER TABLE "assistants" ADD COLUMN "idempotency_key" text;--> statement-breakpoint
ALTER TABLE "assistants" ADD COLUMN "idempotency_fingerprint" text;--> statement-breakpoint
CREATE UNIQUE INDEX "assistants_idempotency_idx" ON "assistants" USING btree ("org_id","idempotency_key") WHERE "assistants"."idempotency_key" is not null;