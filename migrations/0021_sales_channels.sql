CREATE TABLE "sales_channel_chats" (
	"channel_id" text NOT NULL,
	"chat_id" text NOT NULL,
	"org_id" text NOT NULL,
	"conversation_id" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "sales_channel_chats_channel_id_chat_id_pk" PRIMARY KEY("channel_id","chat_id")
);
--> statement-breakpoint
CREATE TABLE "sales_channel_updates" (
	"id" text PRIMARY KEY NOT NULL,
	"seq" bigserial NOT NULL,
	"org_id" text NOT NULL,
	"channel_id" text NOT NULL,
	"external_id" text NOT NULL,
	"chat_id" text NOT NULL,
	"position" bigint NOT NULL,
	"text" text NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"conversation_id" text,
	"error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"processed_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "sales_channels" (
	"id" text PRIMARY KEY NOT NULL,
	"org_id" text NOT NULL,
	"type" text NOT NULL,
	"external_id" text NOT NULL,
	"display_name" text NOT NULL,
	"credentials_sealed" text,
	"key_id" text,
	"created_by" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"disconnected_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "messages" ADD COLUMN "sales_channel_id" text;--> statement-breakpoint
ALTER TABLE "sales_channel_chats" ADD CONSTRAINT "sales_channel_chats_channel_id_sales_channels_id_fk" FOREIGN KEY ("channel_id") REFERENCES "public"."sales_channels"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sales_channel_chats" ADD CONSTRAINT "sales_channel_chats_org_id_organizations_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."organizations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sales_channel_chats" ADD CONSTRAINT "sales_channel_chats_conversation_id_sales_conversations_id_fk" FOREIGN KEY ("conversation_id") REFERENCES "public"."sales_conversations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sales_channel_updates" ADD CONSTRAINT "sales_channel_updates_org_id_organizations_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."organizations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sales_channel_updates" ADD CONSTRAINT "sales_channel_updates_channel_id_sales_channels_id_fk" FOREIGN KEY ("channel_id") REFERENCES "public"."sales_channels"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sales_channels" ADD CONSTRAINT "sales_channels_org_id_organizations_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."organizations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sales_channels" ADD CONSTRAINT "sales_channels_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "sales_channel_updates_external_key" ON "sales_channel_updates" USING btree ("channel_id","external_id");--> statement-breakpoint
CREATE INDEX "sales_channel_updates_chat_idx" ON "sales_channel_updates" USING btree ("channel_id","chat_id","status","position","seq");--> statement-breakpoint
CREATE UNIQUE INDEX "sales_channels_live_external_key" ON "sales_channels" USING btree ("type","external_id") WHERE "sales_channels"."disconnected_at" IS NULL;--> statement-breakpoint
CREATE INDEX "sales_channels_org_idx" ON "sales_channels" USING btree ("org_id","id");--> statement-breakpoint
ALTER TABLE "messages" ADD CONSTRAINT "messages_sales_channel_id_sales_channels_id_fk" FOREIGN KEY ("sales_channel_id") REFERENCES "public"."sales_channels"("id") ON DELETE cascade ON UPDATE no action;