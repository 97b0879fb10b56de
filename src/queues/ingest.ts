import type { Env } from "../env";
import { createServiceCtx } from "../lib/service-ctx";
import { fail, type IngestJob, ingestDocument } from "../modules/assistants/knowledge/ingest";
import { recordDeadLetter } from "../modules/platform/operations/service";
import { backoffSeconds, type QueueJob } from "./jobs";

/** Delivery attempts of one document; matches `max_retries` of billx-ingest in wrangler.toml + 1. */
export const INGEST_MAX_ATTEMPTS = 4;

function isIngestJob(job: QueueJob | undefined): job is IngestJob {
  return job?.kind === "knowledge.ingest" && typeof job.documentId === "string" && typeof job.orgId === "string";
}

/**
 * Consumes `billx-ingest`: one document per message, each on its own. A failure that retrying may
 * cure (storage, database, provider) is retried with backoff; on the last attempt the document is
 * marked failed, so no document stays `processing` for ever.
 */
export async function consumeIngest(batch: MessageBatch<QueueJob>, env: Env, exec: ExecutionContext): Promise<void> {
  const ctx = createServiceCtx(env, (p) => exec.waitUntil(p), { queue: batch.queue });
  for (const message of batch.messages) {
    const job = message.body;
    if (!isIngestJob(job)) {
      await recordDeadLetter(ctx, {
        queue: batch.queue,
        messageId: message.id,
        kind: String(job?.kind ?? "unknown"),
        body: job,
        reason: "not an ingest job",
        attempts: message.attempts,
      });
      message.ack();
      continue;
    }
    try {
      await ingestDocument(ctx, job);
      message.ack();
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      if (message.attempts >= INGEST_MAX_ATTEMPTS) {
        ctx.log.warn("knowledge document failed permanently", { message_id: message.id, document_id: job.documentId, reason });
        await fail(ctx, job.documentId, "Indexing kept failing; try reindexing the document later.");
        message.ack();
      } else {
        const delaySeconds = backoffSeconds(message.attempts);
        ctx.log.warn("knowledge document failed, retrying", {
          message_id: message.id,
          document_id: job.documentId,
          attempt: message.attempts,
          delay_s: delaySeconds,
          reason,
        });
        message.retry({ delaySeconds });
      }
    }
  }
}
