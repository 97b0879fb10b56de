import type { Env } from "./env";
import type { ServiceCtx } from "./lib/context";
import { createServiceCtx } from "./lib/service-ctx";
import { sendBookingReminders } from "./modules/assistants/bookings/reminders";
import { requeueStuckDocuments } from "./modules/assistants/knowledge/stuck";
import { sweepStaleCalls } from "./modules/calls/records/sweep";
import { startDueCampaigns } from "./modules/content/campaigns/service";
import { reclaimExpiredReservations } from "./modules/money/credits/reservations";
import { type CronJobOutcome, purgeOldDeadLetters, recordCronRun } from "./modules/platform/operations/service";
import { sendOverdueReminders } from "./modules/retail/bills/reminders";
import { sendLowStockAlerts } from "./modules/retail/products/low-stock-alerts";
import { answerStuckChats } from "./modules/sales/channels/sweep";
import { deleteExpiredAudio } from "./modules/speech/audio-store";
import { runMonthlyInvoicing } from "./modules/usage/invoices/monthly";

type CronJob = { name: string; run: (ctx: ServiceCtx) => Promise<string | undefined> };

/**
 * Jobs per cron expression; the expressions must match `[triggers] crons` in wrangler.toml.
 * Later modules add quota resets.
 */
export const cronJobs: Record<string, CronJob[]> = {
  // Holds of work that never settled (a crashed request) go back to the balance within minutes.
  "*/5 * * * *": [
    {
      name: "credits.reclaim-expired",
      run: async (ctx) => `${await reclaimExpiredReservations(ctx)} reclaimed`,
    },
    // Every five minutes, so a booking made a few hours ahead is still reminded before it starts.
    {
      name: "bookings.reminders",
      run: async (ctx) => {
        const run = await sendBookingReminders(ctx);
        return `${run.sent} sent, ${run.failed} failed`;
      },
    },
    // Knowledge documents whose ingest job was lost (a reload, a crash) are queued again, a few times at most.
    {
      name: "knowledge.requeue-stuck",
      run: async (ctx) => {
        const run = await requeueStuckDocuments(ctx);
        return `${run.requeued} requeued, ${run.failed} failed`;
      },
    },
    // Campaigns whose send_at has come; a run overlapping the previous one messages nobody twice.
    {
      name: "campaigns.start-due",
      run: async (ctx) => `${await startDueCampaigns(ctx)} started`,
    },
    // Calls whose Durable Object died mid-call are ended as lost and their credit hold settled.
    {
      name: "calls.sweep-stale",
      run: async (ctx) => `${await sweepStaleCalls(ctx)} ended`,
    },
    // Telegram and WhatsApp messages whose answering was lost with its Worker are answered now.
    {
      name: "sales-channels.answer-stuck",
      run: async (ctx) => {
        const run = await answerStuckChats(ctx);
        return `${run.answered} chats answered, ${run.interrupted} interrupted`;
      },
    },
    // Every five minutes, so owners hear of a product running low soon after the sale that did it.
    {
      name: "products.low-stock-alerts",
      run: async (ctx) => {
        const run = await sendLowStockAlerts(ctx);
        return `${run.sent} sent, ${run.failed} failed`;
      },
    },
  ],
  "0 3 * * *": [
    {
      name: "dead-letters.purge",
      run: async (ctx) => `${await purgeOldDeadLetters(ctx)} purged`,
    },
    // Stored audio (spoken answers, kept text to speech) leaves R2 after AUDIO_RETENTION_DAYS.
    {
      name: "audio.expire",
      run: async (ctx) => `${await deleteExpiredAudio(ctx)} deleted`,
    },
  ],
  // Morning in much of the world; a bill is reminded at most once per BILL_REMINDER_INTERVAL_DAYS.
  "0 9 * * *": [
    {
      name: "bills.overdue-reminders",
      run: async (ctx) => {
        const run = await sendOverdueReminders(ctx);
        return `${run.sent} sent, ${run.failed} failed`;
      },
    },
  ],
  // The 1st at 02:00 UTC: last month's usage invoices. Safe to repeat (a retried or doubled
  // trigger skips customers already invoiced).
  "0 2 1 * *": [
    {
      name: "invoices.monthly",
      run: async (ctx) => {
        const run = await runMonthlyInvoicing(ctx);
        return `${run.created} created, ${run.skipped} skipped in ${run.organizations} organisations, ${run.failed} failed`;
      },
    },
  ],
};

/** Runs every job of the fired cron; one job's failure never stops the others. Records the run. */
export async function runScheduled(controller: ScheduledController, env: Env, exec: ExecutionContext): Promise<void> {
  const ctx = createServiceCtx(env, (p) => exec.waitUntil(p), { cron: controller.cron });
  const startedAt = ctx.now();
  const jobs = cronJobs[controller.cron];
  if (!jobs) ctx.log.warn("cron fired with no jobs registered", { cron: controller.cron });
  const outcomes: CronJobOutcome[] = [];
  for (const job of jobs ?? []) {
    try {
      outcomes.push({ job: job.name, ok: true, detail: await job.run(ctx) });
    } catch (error) {
      ctx.log.error("cron job failed", { job: job.name, error });
      outcomes.push({ job: job.name, ok: false, detail: error instanceof Error ? error.message : String(error) });
    }
  }
  await recordCronRun(ctx, { cron: controller.cron, scheduledAt: new Date(controller.scheduledTime), startedAt, jobs: outcomes });
}
