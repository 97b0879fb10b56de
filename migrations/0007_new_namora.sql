CREATE EXTENSION IF NOT EXISTS btree_gist;--> statement-breakpoint
CREATE TABLE "bookings" (
	"id" text PRIMARY KEY NOT NULL,
	"org_id" text NOT NULL,
	"assistant_id" text NOT NULL,
	"start_at" timestamp with time zone NOT NULL,
	"end_at" timestamp with time zone NOT NULL,
	"slots" integer DEFAULT 1 NOT NULL,
	"customer_name" text NOT NULL,
	"phone" text,
	"email" text,
	"details" text,
	"source" text NOT NULL,
	"source_id" text,
	"status" text DEFAULT 'confirmed' NOT NULL,
	"idempotency_key" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "bookings" ADD CONSTRAINT "bookings_org_id_organizations_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."organizations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "bookings" ADD CONSTRAINT "bookings_assistant_id_assistants_id_fk" FOREIGN KEY ("assistant_id") REFERENCES "public"."assistants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "bookings_assistant_idx" ON "bookings" USING btree ("org_id","assistant_id","id");--> statement-breakpoint
CREATE INDEX "bookings_assistant_start_idx" ON "bookings" USING btree ("assistant_id","start_at");--> statement-breakpoint
CREATE UNIQUE INDEX "bookings_idempotency_idx" ON "bookings" USING btree ("org_id","idempotency_key") WHERE "bookings"."idempotency_key" is not null;--> statement-breakpoint
ALTER TABLE "bookings" ADD CONSTRAINT "bookings_no_overlap" EXCLUDE USING gist ("assistant_id" WITH =, tstzrange("start_at", "end_at", '[)') WITH &&) WHERE ("status" = 'confirmed');
