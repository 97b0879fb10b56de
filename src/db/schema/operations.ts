import { index, integer, jsonb, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/** Queue jobs that exhausted their retries, kept for inspection and replay. */
export const deadLetters = pgTable(
  "dead_letters",
  {
    id: text("id").primaryKey(),
    queue: text("queue").notNull(),
    messageId: text("message_id").notNull(),
    kind: text("kind").notNull(),
    body: jsonb("body").notNull(),
    reason: text("reason").notNull(),
    attempts: integer("attempts").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [index("dead_letters_created_idx").on(t.createdAt)],
);

/** One row per cron invocation: which jobs ran and how they ended. */
export const cronRuns = pgTable(
  "cron_runs",
  {
    id: text("id").primaryKey(),
    cron: text("cron").notNull(),
    scheduledAt: timestamp("scheduled_at", { withTimezone: true, mode: "date" }).notNull(),
    status: text("status", { enum: ["ok", "failed"] }).notNull(),
    /** `[{job, ok, detail?}]` */
    jobs: jsonb("jobs").notNull(),
    startedAt: timestamp("started_at", { withTimezone: true, mode: "date" }).notNull(),
    finishedAt: timestamp("finished_at", { withTimezone: true, mode: "date" }).notNull(),
  },
  (t) => [index("cron_runs_scheduled_idx").on(t.scheduledAt)],
);
