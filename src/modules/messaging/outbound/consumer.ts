import { and, eq, inArray, sql } from "drizzle-orm";
import { messages } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { ProviderUnavailable } from "../../../lib/errors";
import { orgFilesPrefix } from "../../../lib/org-files";
import { ProviderError } from "../../../providers/errors";
import { PermanentJobError, type QueueJob, RetryLater } from "../../../queues/jobs";
import { senderForMessage } from "./channels";

/** How long to wait for a message row whose job arrived before the row's transaction committed. */
const UNCOMMITTED_RETRY_SECONDS = 5;

/** Deliveries before a message is given up as `dead` (the queue's max_retries + 1). */
export const MAX_DELIVERY_ATTEMPTS = 6;

type Outcome = { status: "sent"; providerMessageId: string } | { status: "failed" | "dead" | "queued"; error: string };

async function finish(ctx: ServiceCtx, id: string, outcome: Outcome): Promise<void> {
  await ctx.db
    .update(messages)
    .set(
      outcome.status === "sent"
        ? { status: "sent", providerMessageId: outcome.providerMessageId, lastError: null, updatedAt: ctx.now() }
        : { status: outcome.status, lastError: outcome.error.slice(0, 1000), updatedAt: ctx.now() },
    )
    .where(and(eq(messages.id, id), eq(messages.status, "sending")));
}

/**
 * The file an email carries, read from R2 (`media.r2Key`, which must lie under the message's
 * organisation); none for other channels. A file that is gone sends the email without it.
 */
async function emailAttachments(ctx: ServiceCtx, message: typeof messages.$inferSelect): Promise<{ filename: string; content: Uint8Array }[] | undefined> {
  const key = message.media?.r2Key;
  if (message.channel !== "email" || !key || !message.orgId || !key.startsWith(orgFilesPrefix(message.orgId))) return undefined;
  const object = await ctx.env.FILES.get(key);
  if (!object) {
    ctx.log.warn("email attachment missing from R2", { message_id: message.id });
    return undefined;
  }
  return [{ filename: key.split("/").pop() ?? "attachment", content: new Uint8Array(await object.arrayBuffer()) }];
}

/**
 * Handles one `message.send` job. The row is claimed first (`queued` → `sending` in one
 * conditional UPDATE), so at-least-once queue delivery never sends a message twice: a
 * redelivered job, or a second consumer racing the first, finds nothing to claim and stops.
 *
 * Outcomes: `sent` with the provider's id; `failed` for what retrying cannot fix (missing
 * credentials, naming the variable; a provider 4xx, with its reason); back to `queued` and retried
 * with backoff for transient errors (network, 5xx, 429 after its Retry-After); `dead` when the last
 * attempt fails too.
 */
export async function deliverMessage(ctx: ServiceCtx, job: QueueJob, attempt: number): Promise<void> {
  const messageId = String(job.messageId);
  const [message] = await ctx.db
    .update(messages)
    .set({ status: "sending", attempts: sql`${messages.attempts} + 1`, updatedAt: ctx.now() })
    .where(and(eq(messages.id, messageId), inArray(messages.status, ["queued"])))
    .returning();
  if (!message) {
    // Nothing to claim: either another delivery has it (done), or the row is not visible yet
    // because the sender enqueued inside a transaction that has not committed. Only the second
    // is worth another try; a row that never appears (rolled back) ends as a dead letter.
    const [existing] = await ctx.db.select({ id: messages.id }).from(messages).where(eq(messages.id, messageId));
    if (existing) return;
    if (attempt >= MAX_DELIVERY_ATTEMPTS) throw new PermanentJobError(`message ${messageId} does not exist`);
    throw new RetryLater(`message ${messageId} is not visible yet`, UNCOMMITTED_RETRY_SECONDS);
  }

  try {
    const sender = await senderForMessage(ctx, message);
    if (!sender) return finish(ctx, message.id, { status: "failed", error: `no provider adapter for channel ${message.channel}` });
    const sent = await sender.send({ ...message, attachments: await emailAttachments(ctx, message) });
    await finish(ctx, message.id, { status: "sent", providerMessageId: sent.providerMessageId });
  } catch (error) {
    if (error instanceof ProviderUnavailable) {
      return finish(ctx, message.id, { status: "failed", error: `${error.variable} is not set: ${message.channel} is not configured` });
    }
    if (!(error instanceof ProviderError)) throw error;
    if (!error.retryable) return finish(ctx, message.id, { status: "failed", error: error.message });
    if (attempt >= MAX_DELIVERY_ATTEMPTS) {
      await finish(ctx, message.id, { status: "dead", error: error.message });
      throw new PermanentJobError(`gave up after ${attempt} attempts: ${error.message}`);
    }
    await finish(ctx, message.id, { status: "queued", error: error.message });
    throw new RetryLater(error.message, error.retryAfterSeconds);
  }
}

/**
 * A `message.send` job that reached the dead-letter queue (the platform gave up redelivering it,
 * e.g. the Worker crashed mid-send): the message is marked `dead` unless it already ended.
 */
export async function markMessageDead(ctx: ServiceCtx, job: QueueJob): Promise<void> {
  await ctx.db
    .update(messages)
    .set({ status: "dead", lastError: "delivery attempts exhausted", updatedAt: ctx.now() })
    .where(and(eq(messages.id, String(job.messageId)), inArray(messages.status, ["queued", "sending"])));
}
