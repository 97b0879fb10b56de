CREATE TABLE "chatbot_usage_events" (
	"id" text PRIMARY KEY NOT NULL,
	"org_id" text NOT NULL,
	"conversation_id" text,
	"contact_id" text,
	"agent" text NOT NULL,
	"provider" text NOT NULL,
	"model" text NOT NULL,
	"input_tokens" integer NOT NULL,
	"output_tokens" integer NOT NULL,
	"credits" integer NOT NULL,
	"cost_usd" numeric(14, 6) NOT NULL,
	"price_source" text NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "sales_agent_configs" (
	"org_id" text NOT NULL,
	"agent" text NOT NULL,
	"provider" text NOT NULL,
	"model" text NOT NULL,
	"updated_by" text,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "sales_agent_configs_org_id_agent_pk" PRIMARY KEY("org_id","agent")
);
--> statement-breakpoint
CREATE TABLE "sales_prompt_versions" (
	"org_id" text NOT NULL,
	"slug" text NOT NULL,
	"version" integer NOT NULL,
	"text" text NOT NULL,
	"created_by" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "sales_prompt_versions_org_id_slug_version_pk" PRIMARY KEY("org_id","slug","version")
);
--> statement-breakpoint
CREATE TABLE "sales_prompts" (
	"org_id" text NOT NULL,
	"slug" text NOT NULL,
	"current_version" integer NOT NULL,
	"latest_version" integer NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "sales_prompts_org_id_slug_pk" PRIMARY KEY("org_id","slug")
);
--> statement-breakpoint
ALTER TABLE "chatbot_usage_events" ADD CONSTRAINT "chatbot_usage_events_org_id_organizations_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."organizations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sales_agent_configs" ADD CONSTRAINT "sales_agent_configs_org_id_organizations_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."organizations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sales_prompt_versions" ADD CONSTRAINT "sales_prompt_versions_org_id_organizations_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."organizations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sales_prompts" ADD CONSTRAINT "sales_prompts_org_id_organizations_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."organizations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "chatbot_usage_events_org_at_idx" ON "chatbot_usage_events" USING btree ("org_id","at");--> statement-breakpoint
CREATE INDEX "chatbot_usage_events_org_contact_at_idx" ON "chatbot_usage_events" USING btree ("org_id","contact_id","at");