import { z } from "@hono/zod-openapi";
import { pageQuery, pageSchema } from "../../../lib/pagination";
import { ChatTurnBody } from "../chat/schemas";
import { ContactId } from "../conversations/schemas";

const KEY_ID_EXAMPLE = "cpk_01JD3X6W6X8Q3M1B0V4T2Y9ZKA";

/** An origin as a browser sends it: scheme, host and an optional port, nothing else. */
const Origin = z
  .string()
  .trim()
  .max(300)
  .regex(/^https?:\/\/[a-z0-9.-]+(:\d{1,5})?$/i, "An origin such as https://shop.example.com (no path, no trailing slash)")
  .transform((origin) => origin.toLowerCase())
  .openapi({ description: "A site allowed to use the key", example: "https://shop.example.com" });

export const PublishableKey = z
  .object({
    id: z.string().openapi({ description: "Key id", example: KEY_ID_EXAMPLE }),
    key: z.string().openapi({ description: "The publishable key to put in the widget's script tag", example: "pk_4q2Zc8kP0v1tXh9sLmN3bA7y" }),
    name: z.string().nullable().openapi({ description: "A name for the key", example: "Main shop" }),
    allowed_origins: z.array(z.string()).openapi({ description: "Sites whose pages may chat with it", example: ["https://shop.example.com"] }),
    created_at: z.string().openapi({ description: "When it was created", example: "2026-05-01T12:00:00.000Z" }),
    revoked_at: z.string().nullable().openapi({ description: "When it was revoked, or null", example: null }),
  })
  .openapi("ChatbotPublishableKey");

export const CreatePublishableKeyBody = z
  .object({
    name: z.string().trim().min(1).max(100).optional().openapi({ description: "A name for the key", example: "Main shop" }),
    allowed_origins: z.array(Origin).min(1).max(20).openapi({ description: "Sites whose pages may chat with it, 1 to 20" }),
  })
  .openapi("CreateChatbotPublishableKeyRequest");

export const PublishableKeyList = pageSchema(PublishableKey, "ChatbotPublishableKeyList", { data: "Keys, oldest first, revoked ones too" });
export const PublishableKeyListQuery = pageQuery({ defaultLimit: 50, cursorExample: KEY_ID_EXAMPLE });

export const PublishableKeyIdParam = z.object({
  key_id: z
    .string()
    .regex(/^cpk_[0-9A-HJKMNP-TV-Z]{26}$/, "Not a publishable key id")
    .openapi({ param: { name: "key_id", in: "path" }, description: "Key id", example: KEY_ID_EXAMPLE }),
});

/** A widget turn: like a staff turn, but the visitor id is required (the widget keeps it in the browser). */
export const WidgetTurnBody = ChatTurnBody.safeExtend({ contact_id: ContactId }).openapi("WidgetChatTurnRequest");

export const PublishableKeyHeader = z.object({
  // Optional here so that a missing key is a 401 (as a missing bearer token is), not a 422.
  "x-publishable-key": z.string().max(100).optional().openapi({ description: "The site's publishable key", example: "pk_4q2Zc8kP0v1tXh9sLmN3bA7y" }),
});

export const WidgetConversationQuery = z.object({ contact_id: ContactId });

export const WidgetConversationParam = z.object({
  conversation_id: z
    .string()
    .regex(/^scv_[0-9A-HJKMNP-TV-Z]{26}$/, "Not a conversation id")
    .openapi({ param: { name: "conversation_id", in: "path" }, description: "The visitor's conversation", example: "scv_01JD3X6W6X8Q3M1B0V4T2Y9ZKA" }),
});

export const WidgetConversation = z
  .object({
    conversation_id: z.string().openapi({ description: "The conversation", example: "scv_01JD3X6W6X8Q3M1B0V4T2Y9ZKA" }),
    mode: z.enum(["bot", "human"]).openapi({ description: "`human` while a person from the shop is answering", example: "human" }),
    messages: z
      .array(
        z.object({
          role: z.enum(["user", "assistant", "staff"]).openapi({ description: "Who said it", example: "staff" }),
          content: z.string().openapi({ description: "What was said", example: "Hi, this is Ana from the shop." }),
          at: z.string().openapi({ description: "When", example: "2026-05-01T12:00:00.000Z" }),
        }),
      )
      .openapi({ description: "Every message, oldest first" }),
  })
  .openapi("WidgetConversation");

export type PublishableKeyView = z.infer<typeof PublishableKey>;
export type CreatePublishableKeyInput = z.infer<typeof CreatePublishableKeyBody>;
export type WidgetTurnInput = z.infer<typeof WidgetTurnBody>;
