/**
 * Documents left `queued` or `processing` with no ingest job coming: the queue lost the message
 * (a wrangler dev reload drops the local queue) or the consumer died mid-document. A cron job
 * queues them again, a bounded number of times, then fails them with a reason the user can act on.
 */
import { sql } from "drizzle-orm";
import type { ServiceCtx } from "../../../lib/context";
import { enqueueIngest } from "./documents";
import { fail } from "./ingest";

/**
 * Untouched this long, a document is stuck. Longer than a live one can be: a delivery runs at
 * most 15 minutes and the queue's retries wait at most 15 more (src/queues/jobs.ts backoff).
 */
export const STUCK_AFTER_MINUTES = 30;
/** Times one indexing is queued again before the document is failed. */
export const MAX_REQUEUES = 3;
/** Documents handled per run at most; the rest wait for the next run. */
export const STUCK_PER_RUN = 500;
const GIVE_UP_REASON = `Indexing never finished after ${MAX_REQUEUES + 1} attempts; reindex the document to try again.`;

export interface StuckDocumentRun {
  requeued: number;
  failed: number;
}

interface ClaimedDocument {
  id: string;
  org_id: string;
  assistant_id: string;
  requeues: number;
}

/**
 * Claims stuck documents in ONE statement, counting the attempt and stamping them now, so a run
 * overlapping this one skips them (SKIP LOCKED, and the UPDATE re-checks the age). A document
 * queued again more than MAX_REQUEUES times is failed instead of queued.
 */
export async function requeueStuckDocuments(ctx: ServiceCtx, limit = STUCK_PER_RUN): Promise<StuckDocumentRun> {
  const now = ctx.now();
  const cutoff = new Date(now.getTime() - STUCK_AFTER_MINUTES * 60_000).toISOString();
  const result = (await ctx.db.execute(sql`
    WITH stuck AS MATERIALIZED (
      SELECT id FROM knowledge_documents
       WHERE status IN ('queued', 'processing') AND updated_at < ${cutoff}::timestamptz
       ORDER BY updated_at, id
       LIMIT ${limit}
       FOR UPDATE SKIP LOCKED
    )
    UPDATE knowledge_documents AS d
       SET requeues = d.requeues + 1,
           status = CASE WHEN d.requeues < ${MAX_REQUEUES} THEN 'queued' ELSE d.status END,
           updated_at = ${now.toISOString()}::timestamptz
      FROM stuck
     WHERE d.id = stuck.id AND d.status IN ('queued', 'processing') AND d.updated_at < ${cutoff}::timestamptz
    RETURNING d.id, d.org_id, d.assistant_id, d.requeues
  `)) as unknown as { rows: ClaimedDocument[] };
  const again = result.rows.filter((row) => row.requeues <= MAX_REQUEUES);
  const givenUp = result.rows.filter((row) => row.requeues > MAX_REQUEUES);
  // sendBatch takes at most 100 messages.
  for (let i = 0; i < again.length; i += 100) {
    await enqueueIngest(
      ctx,
      again.slice(i, i + 100).map((row) => ({ id: row.id, orgId: row.org_id })),
    );
  }
  for (const row of givenUp) await fail(ctx, row.id, GIVE_UP_REASON);
  if (result.rows.length > 0) ctx.log.warn("stuck knowledge documents", { requeued: again.length, failed: givenUp.length });
  return { requeued: again.length, failed: givenUp.length };
}
