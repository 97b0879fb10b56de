CREATE TABLE "chatbot_publishable_keys" (
	"id" text PRIMARY KEY NOT NULL,
	"org_id" text NOT NULL,
	"key" text NOT NULL,
	"name" text,
	"allowed_origins" jsonb NOT NULL,
	"created_by" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"revoked_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "chatbot_publishable_keys" ADD CONSTRAINT "chatbot_publishable_keys_org_id_organizations_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."organizations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "chatbot_publishable_keys" ADD CONSTRAINT "chatbot_publishable_keys_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "chatbot_publishable_keys_key" ON "chatbot_publishable_keys" USING btree ("key");--> statement-breakpoint
CREATE INDEX "chatbot_publishable_keys_org_idx" ON "chatbot_publishable_keys" USING btree ("org_id","id");