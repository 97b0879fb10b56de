import { z } from "@hono/zod-openapi";
import { MESSAGE_CHANNELS, MESSAGE_STATUSES } from "../../../db/schema";
import { idempotencyHeader, pathId } from "../../../lib/openapi";
import { pageQuery, pageSchema } from "../../../lib/pagination";

const Channel = z.enum(MESSAGE_CHANNELS).openapi({ description: "How the message travels", example: "sms" });
const Status = z.enum(MESSAGE_STATUSES).openapi({ description: "Delivery status; moves forward only", example: "sent" });

export const SendMessageBody = z
  .object({
    channel: Channel,
    to: z.string().trim().min(1).max(254).openapi({ description: "E.164 phone (sms, whatsapp), email address, or Telegram chat id", example: "+14155550100" }),
    subject: z.string().max(200).optional().openapi({ description: "Email subject (email only)", example: "Your bill BILL-000123" }),
    body: z
      .string()
      .min(1)
      .max(4096)
      .optional()
      .openapi({ description: "Text of the message; required unless a template is given", example: "Your bill of 12.50 USD is ready." }),
    template: z
      .string()
      .regex(/^[a-z0-9_]{1,512}$/, "lowercase letters, digits and underscores")
      .optional()
      .openapi({ description: "WhatsApp approved template name", example: "bill_ready" }),
    variables: z
      .record(z.string(), z.string().max(1024))
      .optional()
      .openapi({ description: "Template variables, in order; `language` picks the template language", example: { "1": "12.50 USD" } }),
    media_url: z.url().optional().openapi({ description: "Image to attach (WhatsApp, Telegram, MMS)", example: "https://cdn.example.com/banner.png" }),
  })
  .refine((m) => m.body !== undefined || m.template !== undefined, { message: "a body or a template is required", path: ["body"] })
  .openapi("SendMessageRequest");

export const IdempotencyHeader = idempotencyHeader("the first message back instead of sending twice", "bill-123-reminder-1");

export const Message = z
  .object({
    id: z.string().openapi({ description: "Message id", example: "msg_01JD3X6W6X8Q3M1B0V4T2Y9ZKA" }),
    channel: Channel,
    to: z.string().openapi({ description: "Recipient", example: "+14155550100" }),
    subject: z.string().nullable().openapi({ description: "Email subject", example: null }),
    body: z.string().nullable().openapi({ description: "Text sent", example: "Your bill of 12.50 USD is ready." }),
    template: z.string().nullable().openapi({ description: "Template name", example: null }),
    status: Status,
    provider_message_id: z.string().nullable().openapi({ description: "The provider's id once sent", example: "SM0123456789abcdef0123456789abcdef" }),
    attempts: z.number().int().openapi({ description: "Delivery attempts so far", example: 1 }),
    last_error: z.string().nullable().openapi({ description: "Why the last attempt failed", example: null }),
    entity: z
      .object({ type: z.string().openapi({ example: "bill" }), id: z.string().openapi({ example: "bill_01JD3X6W6X8Q3M1B0V4T2Y9ZKA" }) })
      .nullable()
      .openapi({ description: "What the message is about", example: null }),
    created_at: z.string().openapi({ description: "When it was queued (UTC)", example: "2026-11-25T19:32:00.000Z" }),
    updated_at: z.string().openapi({ description: "Last status change (UTC)", example: "2026-11-25T19:32:01.000Z" }),
  })
  .openapi("Message");

export const MessageIdParam = z.object({
  id: pathId("id", "msg", "Message id", "msg_01JD3X6W6X8Q3M1B0V4T2Y9ZKA"),
});

export const MessageListQuery = pageQuery({ defaultLimit: 50, cursorExample: "msg_01JD3X6W6X8Q3M1B0V4T2Y9ZKA" }).extend({
  channel: Channel.optional(),
  status: Status.optional(),
});

export const MessageList = pageSchema(Message, "MessageList", {
  data: "Messages, newest first",
  nextCursor: "Pass as `cursor` for older messages; null on the last page",
});

export type MessageView = z.infer<typeof Message>;
