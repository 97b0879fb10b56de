import { and, eq, inArray, isNull } from "drizzle-orm";
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
  report: { channel: MessageChannel; providerMessageId: string; status: ReportedStatus; error?: string; salesChannelId?: string },
): Promise<boolean> {
  const changed = await ctx.db
    .update(messages)
    .set({ status: report.status, ...(report.error ? { lastError: report.error.slice(0, 1000) } : {}), updatedAt: ctx.now() })
    .where(
      and(
        eq(messages.channel, report.channel),
        eq(messages.providerMessageId, report.providerMessageId),
        inArray(messages.status, MAY_REPLACE[report.status]),
        // A sales channel's webhook speaks for that channel's messages only; the platform's for its own.
        report.salesChannelId ? eq(messages.salesChannelId, report.salesChannelId) : isNull(messages.salesChannelId),
      ),
    )
    .returning({ id: messages.id });
  return changed.length > 0;
}

interface WhatsAppStatus {
  id?: string;
  status?: string;
  errors?: { code?: number; title?: string; message?: string }[];
}

/** The part of a WhatsApp Cloud API webhook body that carries delivery statuses. */
export interface WhatsAppStatusWebhook {
  entry?: { changes?: { value?: { metadata?: { phone_number_id?: string }; statuses?: WhatsAppStatus[] } }[] }[];
}

const WHATSAPP_REPORTED = new Set<string>(["sent", "delivered", "read", "failed"]);

/**
 * Applies every delivery status (`sent`, `delivered`, `read`, `failed`) in a WhatsApp webhook
 * body to our messages. `only` narrows it to one business number's statuses, sent through one
 * sales channel (a channel's own webhook); without it they are the platform number's.
 */
export async function applyWhatsAppStatuses(
  ctx: ServiceCtx,
  payload: WhatsAppStatusWebhook,
  only?: { phoneNumberId: string; salesChannelId: string },
): Promise<void> {
  // Signed is not well-formed: every level is checked before it is walked.
  const list = <T>(value: T[] | undefined): T[] => (Array.isArray(value) ? value : []);
  for (const entry of list(payload?.entry)) {
    for (const change of list(entry?.changes)) {
      if (only && change?.value?.metadata?.phone_number_id !== only.phoneNumberId) continue;
      for (const status of list(change?.value?.statuses)) {
        if (typeof status?.id !== "string" || !WHATSAPP_REPORTED.has(String(status.status))) continue;
        const error = list(status.errors)[0];
        await applyProviderStatus(ctx, {
          channel: "whatsapp",
          providerMessageId: status.id,
          status: status.status as ReportedStatus,
          error: error ? `whatsapp error ${error.code}: ${error.title ?? error.message ?? ""}` : undefined,
          salesChannelId: only?.salesChannelId,
        });
      }
    }
  }
}
