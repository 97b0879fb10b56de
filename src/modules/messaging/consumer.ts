import { and, eq, inArray, sql } from "drizzle-orm";
import { messages } from "../../db/schema";
import type { ServiceCtx } from "../../lib/context";
import type { QueueJob } from "../../queues/jobs";

/**
 * Handles `message.send` jobs. The row is claimed atomically first (`queued` → `sending`), so
 * at-least-once queue delivery never sends one message twice: a redelivered job finds nothing
 * to claim and stops.
 *
 * Channel adapters (Twilio, WhatsApp Cloud API, Telegram, email) arrive with the messaging
 * issue; until then a claimed message is marked `failed` with a reason that says so.
 */
export async function deliverMessage(ctx: ServiceCtx, job: QueueJob): Promise<void> {
  const messageId = String(job.messageId);
  const [claimed] = await ctx.db
    .update(messages)
    .set({ status: "sending", attempts: sql`${messages.attempts} + 1`, updatedAt: ctx.now() })
    .where(and(eq(messages.id, messageId), inArray(messages.status, ["queued"])))
    .returning({ id: messages.id, channel: messages.channel });
  if (!claimed) return;
  await ctx.db
    .update(messages)
    .set({ status: "failed", lastError: `no provider adapter for channel ${claimed.channel} yet`, updatedAt: ctx.now() })
    .where(eq(messages.id, claimed.id));
}
