import { lt } from "drizzle-orm";
import { cronRuns, deadLetters } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { newId } from "../../../lib/ids";

export interface DeadLetterInput {
  queue: string;
  messageId: string;
  kind: string;
  body: unknown;
  reason: string;
  attempts: number;
}

/** Keeps a job that will not be retried any more, so an operator can see why and replay it. */
export async function recordDeadLetter(ctx: ServiceCtx, input: DeadLetterInput): Promise<string> {
  const id = newId("dlq");
  await ctx.db.insert(deadLetters).values({ id, ...input, body: input.body ?? null });
  return id;
}

export const DEAD_LETTER_RETENTION_DAYS = 30;

/** Deletes dead letters older than the retention period; returns how many went. */
export async function purgeOldDeadLetters(ctx: ServiceCtx): Promise<number> {
  const cutoff = new Date(ctx.now().getTime() - DEAD_LETTER_RETENTION_DAYS * 86_400_000);
  const removed = await ctx.db.delete(deadLetters).where(lt(deadLetters.createdAt, cutoff)).returning({ id: deadLetters.id });
  return removed.length;
}

export interface CronJobOutcome {
  job: string;
  ok: boolean;
  detail?: string;
}

export async function recordCronRun(ctx: ServiceCtx, run: { cron: string; scheduledAt: Date; startedAt: Date; jobs: CronJobOutcome[] }): Promise<void> {
  await ctx.db.insert(cronRuns).values({
    id: newId("cron"),
    cron: run.cron,
    scheduledAt: run.scheduledAt,
    startedAt: run.startedAt,
    finishedAt: ctx.now(),
    status: run.jobs.every((j) => j.ok) ? "ok" : "failed",
    jobs: run.jobs,
  });
}
