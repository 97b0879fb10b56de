import { and, eq, inArray } from "drizzle-orm";
import { type MESSAGE_STATUSES, messages } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import type { MessageChannel } from "./types";

type MessageStatus = (typeof MESSAGE_STATUSES)[number];
export type ReportedStatus = "sent" | "delivered" | "read" | "failed";

// Callbacks arrive out of order (a `sent` after its `delivered`), so a status only moves forward:
// each reported status may replace only the statuses listed for it.
const MAY_REPLACE: Record<ReportedStatus, MessageStatus[]> = {
  sent: ["queued", "sending"],
  delivered: ["queued", "sending", "sent"],
  read: ["queued", "sending", "sent", "delivered"],
  failed: ["queued", "sending", "sent"],
};

/**
 * Applies a delivery status a provider reported for one of our messages (found by the provider's
 * message id). Returns whether the row changed; an unknown id or a stale status changes nothing.
 */
export async function applyProviderStatus(
  ctx: ServiceCtx,
  report: { channel: MessageChannel; providerMessageId: string; status: ReportedStatus; error?: string },
): Promise<boolean> {
  const changed = await ctx.db
    .update(messages)
    .set({ status: report.status, ...(report.error ? { lastError: report.error.slice(0, 1000) } : {}), updatedAt: ctx.now() })
    .where(
      and(eq(messages.channel, report.channel), eq(messages.providerMessageId, report.providerMessageId), inArray(messages.status, MAY_REPLACE[report.status])),
    )
    .returning({ id: messages.id });
  return changed.length > 0;
}
