CREATE TABLE "linked_databases" (
	"id" text PRIMARY KEY NOT NULL,
	"org_id" text NOT NULL,
	"name" text NOT NULL,
	"url_sealed" text NOT NULL,
	"key_id" text NOT NULL,
	"host" text NOT NULL,
	"database_name" text NOT NULL,
	"allowed_schemas" text[] DEFAULT '{}'::text[] NOT NULL,
	"allowed_tables" text[] DEFAULT '{}'::text[] NOT NULL,
	"schema_cache" jsonb NOT NULL,
	"schema_refreshed_at" timestamp with time zone NOT NULL,
	"role_can_write" boolean NOT NULL,
	"created_by" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "query_examples" (
	"id" text PRIMARY KEY NOT NULL,
	"org_id" text NOT NULL,
	"database_id" text NOT NULL,
	"question" text NOT NULL,
	"sql" text NOT NULL,
	"source_run_id" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "query_runs" (
	"id" text PRIMARY KEY NOT NULL,
	"org_id" text NOT NULL,
	"database_id" text NOT NULL,
	"conversation_id" text NOT NULL,
	"prompt" text NOT NULL,
	"sql" text,
	"explanation" text,
	"status" text NOT NULL,
	"error" text,
	"row_count" integer,
	"duration_ms" integer,
	"prompt_tokens" integer DEFAULT 0 NOT NULL,
	"completion_tokens" integer DEFAULT 0 NOT NULL,
	"credits" integer DEFAULT 0 NOT NULL,
	"user_id" text,
	"api_key_id" text,
	"feedback_correct" boolean,
	"corrected_sql" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "sql_tools" (
	"id" text PRIMARY KEY NOT NULL,
	"org_id" text NOT NULL,
	"database_id" text NOT NULL,
	"name" text NOT NULL,
	"description" text NOT NULL,
	"sql_template" text NOT NULL,
	"parameters" jsonb NOT NULL,
	"created_by" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "linked_databases" ADD CONSTRAINT "linked_databases_org_id_organizations_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."organizations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "linked_databases" ADD CONSTRAINT "linked_databases_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "query_examples" ADD CONSTRAINT "query_examples_org_id_organizations_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."organizations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "query_examples" ADD CONSTRAINT "query_examples_database_id_linked_databases_id_fk" FOREIGN KEY ("database_id") REFERENCES "public"."linked_databases"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "query_examples" ADD CONSTRAINT "query_examples_source_run_id_query_runs_id_fk" FOREIGN KEY ("source_run_id") REFERENCES "public"."query_runs"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "query_runs" ADD CONSTRAINT "query_runs_org_id_organizations_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."organizations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "query_runs" ADD CONSTRAINT "query_runs_database_id_linked_databases_id_fk" FOREIGN KEY ("database_id") REFERENCES "public"."linked_databases"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "query_runs" ADD CONSTRAINT "query_runs_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sql_tools" ADD CONSTRAINT "sql_tools_org_id_organizations_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."organizations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sql_tools" ADD CONSTRAINT "sql_tools_database_id_linked_databases_id_fk" FOREIGN KEY ("database_id") REFERENCES "public"."linked_databases"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sql_tools" ADD CONSTRAINT "sql_tools_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "linked_databases_org_name_key" ON "linked_databases" USING btree ("org_id",lower("name"));--> statement-breakpoint
CREATE INDEX "linked_databases_org_idx" ON "linked_databases" USING btree ("org_id","id");--> statement-breakpoint
CREATE INDEX "query_examples_db_idx" ON "query_examples" USING btree ("org_id","database_id","id");--> statement-breakpoint
CREATE UNIQUE INDEX "query_examples_source_key" ON "query_examples" USING btree ("source_run_id");--> statement-breakpoint
CREATE INDEX "query_runs_org_db_idx" ON "query_runs" USING btree ("org_id","database_id","id");--> statement-breakpoint
CREATE INDEX "query_runs_conversation_idx" ON "query_runs" USING btree ("org_id","conversation_id","id");--> statement-breakpoint
CREATE UNIQUE INDEX "sql_tools_org_name_key" ON "sql_tools" USING btree ("org_id",lower("name"));--> statement-breakpoint
CREATE INDEX "sql_tools_org_idx" ON "sql_tools" USING btree ("org_id","id");