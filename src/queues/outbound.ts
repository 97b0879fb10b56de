import type { Env } from "../env";
import type { ServiceCtx } from "../lib/context";
import { createServiceCtx } from "../lib/service-ctx";
import { deliverMessage, markMessageDead } from "../modules/messaging/outbound/consumer";
import { recordDeadLetter } from "../modules/platform/operations/service";
import { deliverTyping } from "../modules/sales/channels/replies";
import { backoffSeconds, PermanentJobError, type QueueJob, RetryLater } from "./jobs";

export type JobHandler = (ctx: ServiceCtx, job: QueueJob, attempt: number) => Promise<void>;

/** Handlers by job kind; each module that enqueues work names its handler here. */
export const outboundHandlers: Record<string, JobHandler> = {
  "message.send": deliverMessage,
  "sales.typing": deliverTyping,
};

/** What to do when a job of a kind reaches the dead-letter queue, besides recording it. */
const deadLetterHandlers: Record<string, (ctx: ServiceCtx, job: QueueJob) => Promise<void>> = {
  "message.send": markMessageDead,
};

/** Delivery attempts before a job is dead-lettered; matches `max_retries` in wrangler.toml + 1. */
export const MAX_ATTEMPTS = 6;

/**
 * Consumes the `outbound` queue. Each message is handled on its own: a failure is retried with
 * backoff, a permanent failure is recorded as a dead letter and acknowledged, and nothing throws
 * out of the loop (one bad message must not redeliver the whole batch).
 */
export async function consumeOutbound(batch: MessageBatch<QueueJob>, env: Env, exec: ExecutionContext): Promise<void> {
  const ctx = createServiceCtx(env, (p) => exec.waitUntil(p), { queue: batch.queue });
  for (const message of batch.messages) {
    const job = message.body;
    const handler = job && typeof job.kind === "string" ? outboundHandlers[job.kind] : undefined;
    try {
      if (!handler) throw new PermanentJobError(`unknown job kind ${JSON.stringify(job?.kind)}`);
      await handler(ctx, job, message.attempts);
      message.ack();
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      if (error instanceof PermanentJobError || message.attempts >= MAX_ATTEMPTS) {
        ctx.log.warn("outbound job failed permanently", { message_id: message.id, kind: job?.kind, reason });
        await recordDeadLetter(ctx, {
          queue: batch.queue,
          messageId: message.id,
          kind: String(job?.kind ?? "unknown"),
          body: job,
          reason,
          attempts: message.attempts,
        });
        message.ack();
      } else {
        // A provider's Retry-After is a floor: never come back sooner than it asked.
        const delaySeconds = Math.max(backoffSeconds(message.attempts), error instanceof RetryLater ? (error.delaySeconds ?? 0) : 0);
        ctx.log.warn("outbound job failed, retrying", { message_id: message.id, kind: job.kind, attempt: message.attempts, delay_s: delaySeconds, reason });
        message.retry({ delaySeconds });
      }
    }
  }
}

/**
 * Consumes the dead-letter queue: jobs the platform gave up on after `max_retries` (for example
 * when this Worker crashed while handling them) are stored for inspection.
 */
export async function consumeDeadLetters(batch: MessageBatch<QueueJob>, env: Env, exec: ExecutionContext): Promise<void> {
  const ctx = createServiceCtx(env, (p) => exec.waitUntil(p), { queue: batch.queue });
  for (const message of batch.messages) {
    const kind = String(message.body?.kind ?? "unknown");
    await deadLetterHandlers[kind]?.(ctx, message.body);
    await recordDeadLetter(ctx, {
      queue: batch.queue,
      messageId: message.id,
      kind,
      body: message.body,
      reason: "delivery attempts exhausted",
      attempts: message.attempts,
    });
    message.ack();
  }
}
