import { z } from "@hono/zod-openapi";
import { SALES_CHANNELS, SALES_CONVERSATION_MODES, SALES_MESSAGE_ROLES } from "../../../db/schema";
import { pageQuery, pageSchema } from "../../../lib/pagination";
import { STAGES } from "../flows/rules";

export const CONVERSATION_ID_EXAMPLE = "scv_01JD3X6W6X8Q3M1B0V4T2Y9ZKA";
export const CONVERSATION_ID_PATTERN = /^scv_[0-9A-HJKMNP-TV-Z]{26}$/;
/** A contact is whoever the channel says: a visitor id, a Telegram chat, a phone number. Printable, no control characters. */
export const CONTACT_ID_PATTERN = /^[^\p{Cc}]{1,200}$/u;
export const MAX_MESSAGE_CHARS = 4000;

const Timestamp = (description: string) => z.string().openapi({ description, example: "2026-05-01T12:00:00.000Z" });

/** Text a person typed: trimmed, 1 to `max` characters, no NUL or other control characters but newlines and tabs. */
export function typedText(max: number, description: string, example: string) {
  return z
    .string()
    .trim()
    .min(1)
    .max(max)
    .refine((v) => !/(?![\n\r\t])\p{Cc}/u.test(v), "Control characters (NUL and the like) are not allowed")
    .openapi({ description, example });
}

export const ContactId = z
  .string()
  .trim()
  .regex(CONTACT_ID_PATTERN, "1 to 200 printable characters")
  .openapi({ description: "Who the conversation is with: your visitor id, a Telegram chat id or a phone number", example: "visitor-8812" });

export const ConversationIdParam = z.object({
  conversation_id: z
    .string()
    .regex(CONVERSATION_ID_PATTERN, "Not a conversation id")
    .openapi({ param: { name: "conversation_id", in: "path" }, description: "Conversation id", example: CONVERSATION_ID_EXAMPLE }),
});

export const ContactIdParam = z.object({
  contact_id: ContactId.openapi({ param: { name: "contact_id", in: "path" } }),
});

export const Order = z
  .object({
    product_id: z.string().openapi({ description: "The product ordered", example: "prod_01JD3X6W6X8Q3M1B0V4T2Y9ZKA" }),
    quantity: z.number().int().openapi({ description: "How many", example: 2 }),
    value: z.number().int().openapi({ description: "Price times quantity from the products table, in minor units", example: 3700 }),
    currency: z.string().openapi({ description: "ISO 4217 currency", example: "USD" }),
  })
  .openapi("SalesOrder");

export const Conversation = z
  .object({
    id: z.string().openapi({ description: "Conversation id", example: CONVERSATION_ID_EXAMPLE }),
    contact_id: z.string().openapi({ description: "Who the conversation is with", example: "visitor-8812" }),
    channel: z.enum(SALES_CHANNELS).openapi({ description: "Where it happens", example: "web" }),
    title: z.string().nullable().openapi({ description: "A title; the first message's start until someone sets one", example: "Coffee beans for the office" }),
    stage: z.enum(STAGES).openapi({ description: "The stage of the sales flow it is in", example: "consultation" }),
    mode: z
      .enum(SALES_CONVERSATION_MODES)
      .openapi({ description: "`bot` answers, or `human`: a staff member took it over and the bot is paused", example: "bot" }),
    taken_over_by: z.string().nullable().openapi({ description: "The staff member who took it over, or null", example: null }),
    order: Order.nullable().openapi({ description: "The order agreed at closing, or null" }),
    created_at: Timestamp("When the conversation started"),
    updated_at: Timestamp("When it last changed"),
  })
  .openapi("SalesConversation");

export const ConversationMessage = z
  .object({
    role: z
      .enum(SALES_MESSAGE_ROLES)
      .openapi({ description: "`user` (the contact), `assistant` (the bot) or `staff` (a person who took over)", example: "user" }),
    content: z.string().openapi({ description: "What was said", example: "How much are the arabica beans?" }),
    stage: z.string().openapi({ description: "The stage it was said in", example: "consultation" }),
    at: Timestamp("When it was said"),
  })
  .openapi("SalesConversationMessage");

export const ConversationDetail = Conversation.extend({
  messages: z.array(ConversationMessage).openapi({ description: "Every message, oldest first" }),
}).openapi("SalesConversationDetail");

export const ConversationList = pageSchema(Conversation, "SalesConversationList", {
  data: "Conversations, newest first",
  nextCursor: "Pass as `cursor` for older conversations; null on the last page",
});

export const ConversationListQuery = pageQuery({ defaultLimit: 20, cursorExample: CONVERSATION_ID_EXAMPLE }).extend({
  contact_id: ContactId.optional(),
});

export const CreateConversationBody = z
  .object({
    contact_id: ContactId.optional().openapi({ description: "Who it is with; a new visitor id (vis_...) when left out" }),
    title: typedText(200, "A title", "Coffee beans for the office").optional(),
  })
  .openapi("CreateSalesConversationRequest");

export const UpdateConversationBody = z
  .object({ title: typedText(200, "The new title", "Office coffee order").nullable() })
  .openapi("UpdateSalesConversationRequest");

export const StaffReplyBody = z
  .object({ content: typedText(MAX_MESSAGE_CHARS, "What the staff member says to the contact", "Hi, this is Ana from the shop. I can help.") })
  .openapi("SalesStaffReplyRequest");

export const ContactHistory = z
  .object({
    contact_id: z.string().openapi({ description: "The contact", example: "visitor-8812" }),
    messages: z
      .array(ConversationMessage.extend({ conversation_id: z.string().openapi({ description: "The conversation", example: CONVERSATION_ID_EXAMPLE }) }))
      .openapi({ description: "The contact's messages across conversations, oldest first (the latest 1,000)" }),
  })
  .openapi("SalesContactHistory");

export type ConversationView = z.infer<typeof Conversation>;
export type ConversationDetailView = z.infer<typeof ConversationDetail>;
export type ConversationListInput = z.infer<typeof ConversationListQuery>;
export type ContactHistoryView = z.infer<typeof ContactHistory>;
