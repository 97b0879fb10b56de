import { z } from "@hono/zod-openapi";
import { pageQuery, pageSchema } from "../../../lib/pagination";
import { FileSchema } from "../files/schemas";

export const ChatMessage = z
  .object({
    role: z.enum(["system", "user", "assistant"]).openapi({ description: "Who says it", example: "user" }),
    content: z.string().min(1).max(100_000).openapi({ description: "The text", example: "Write a two-line thank-you note for a customer." }),
  })
  .openapi("ChatMessage");

export const CompletionBody = z
  .object({
    model: z
      .string()
      .trim()
      .min(1)
      .max(100)
      .optional()
      .openapi({ description: "OpenAI model; `gpt-4o-mini` when omitted. Priced per model (see the credits price map)", example: "gpt-4o-mini" }),
    messages: z.array(ChatMessage).min(1).max(100).openapi({ description: "The conversation so far, oldest first" }),
    max_tokens: z
      .number()
      .int()
      .min(1)
      .max(16_384)
      .optional()
      .openapi({ description: "Most tokens to generate (default 512); the credits held before the call are estimated from it", example: 256 }),
  })
  .openapi("CompletionRequest");

export const Completion = z
  .object({
    content: z.string().openapi({ description: "The model's answer", example: "Thank you for shopping with us!\nSee you again soon." }),
    model: z.string().openapi({ description: "The model that answered", example: "gpt-4o-mini" }),
    usage: z
      .object({
        input_tokens: z.number().int().openapi({ description: "Prompt tokens the provider counted", example: 24 }),
        output_tokens: z.number().int().openapi({ description: "Tokens generated", example: 14 }),
      })
      .openapi({ description: "Tokens the provider counted" }),
    credits_charged: z.number().int().openapi({ description: "Credits charged for this call, from the actual token usage", example: 1 }),
    balance: z.number().int().openapi({ description: "Credits left after this call", example: 999 }),
  })
  .openapi("Completion");

export type CompletionInput = z.infer<typeof CompletionBody>;
export type CompletionView = z.infer<typeof Completion>;

export const TEXT_KINDS = ["product_description", "sms", "whatsapp", "email", "social_post", "offer"] as const;
export const TEXT_STYLES = ["professional", "friendly", "playful", "formal", "festive"] as const;
export type TextKind = (typeof TEXT_KINDS)[number];

const noNul = (value: string) => !value.includes("\u0000");
const PromptText = z.string().trim().min(1).max(4000).refine(noNul, "NUL characters are not allowed");

export const TextBody = z
  .object({
    prompt: PromptText.openapi({ description: "What to write about", example: "Diwali sale: 20% off all sweets until Sunday" }),
    kind: z
      .enum(TEXT_KINDS)
      .default("offer")
      .openapi({ description: "Where the text goes; it decides the length limit (an SMS fits its segments)", example: "sms" }),
    style: z.enum(TEXT_STYLES).default("friendly").openapi({ description: "Tone", example: "festive" }),
    language: z
      .string()
      .regex(/^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$/, "a language tag such as en, hi or pt-BR")
      .default("en")
      .openapi({ description: "BCP 47 language tag of the text", example: "en" }),
    max_chars: z.number().int().min(20).max(10_000).optional().openapi({
      description:
        "At most this many characters; each kind has a default and a ceiling (sms 459, whatsapp 4096, email 10000, social_post 2200, product_description 5000, offer 1000)",
      example: 160,
    }),
    max_segments: z.number().int().min(1).max(3).optional().openapi({ description: "SMS only: segments the text may take (default 1)", example: 1 }),
    model: z.string().trim().min(1).max(100).optional().openapi({ description: "OpenAI model; `gpt-4o-mini` when omitted", example: "gpt-4o-mini" }),
  })
  .openapi("AiTextRequest");

const Usage = z
  .object({
    input_tokens: z.number().int().openapi({ description: "Prompt tokens the provider counted", example: 120 }),
    output_tokens: z.number().int().openapi({ description: "Tokens generated", example: 40 }),
  })
  .openapi({ description: "Tokens the provider counted (all calls together)" });

export const AiText = z
  .object({
    id: z.string().openapi({ description: "Content id, usable as a campaign's `ai_content_id`", example: "aic_01JD3X6W6X8Q3M1B0V4T2Y9ZKA" }),
    kind: z.enum(TEXT_KINDS).openapi({ description: "Where the text goes", example: "sms" }),
    style: z.enum(TEXT_STYLES).openapi({ description: "Tone", example: "festive" }),
    language: z.string().openapi({ description: "Language tag", example: "en" }),
    text: z.string().openapi({ description: "The text, within its channel's limits", example: "Diwali sale! 20% off all sweets till Sunday. Visit us today." }),
    characters: z.number().int().openapi({ description: "Characters (code points)", example: 61 }),
    sms: z
      .object({
        encoding: z
          .enum(["gsm7", "ucs2"])
          .openapi({ description: "How the SMS is sent: GSM-7, or UCS-2 when a character is outside GSM's alphabet", example: "gsm7" }),
        segments: z.number().int().openapi({ description: "Segments it takes", example: 1 }),
      })
      .nullable()
      .openapi({ description: "For an SMS: its encoding and segments; null for other kinds" }),
    adjusted: z.enum(["none", "rewritten", "trimmed"]).openapi({
      description:
        "`rewritten`: the first draft was too long and the model was asked once more; `trimmed`: that was too long as well and it was cut at a word boundary",
      example: "none",
    }),
    model: z.string().openapi({ description: "The model that wrote it", example: "gpt-4o-mini" }),
    usage: Usage,
    credits_charged: z.number().int().openapi({ description: "Credits charged, from the actual token usage", example: 1 }),
    balance: z.number().int().openapi({ description: "Credits left", example: 999 }),
    created_at: z.string().openapi({ description: "When it was written", example: "2026-05-01T12:00:00.000Z" }),
  })
  .openapi("AiText");

export const AiContentItem = z
  .object({
    id: z.string().openapi({ description: "Content id", example: "aic_01JD3X6W6X8Q3M1B0V4T2Y9ZKA" }),
    kind: z.enum([...TEXT_KINDS, "banner"]).openapi({ description: "A text's kind, or `banner`", example: "sms" }),
    style: z.string().openapi({ description: "Tone or image style", example: "festive" }),
    language: z.string().nullable().openapi({ description: "Language tag of a text", example: "en" }),
    prompt: z.string().openapi({ description: "What was asked", example: "Diwali sale: 20% off all sweets until Sunday" }),
    text: z.string().nullable().openapi({ description: "The text written, or a banner's headline", example: "Diwali sale! 20% off all sweets till Sunday." }),
    file_id: z.string().nullable().openapi({ description: "A banner's image file (null once deleted, and for texts)", example: null }),
    model: z.string().openapi({ description: "The model", example: "gpt-4o-mini" }),
    usage: Usage,
    credits: z.number().int().openapi({ description: "Credits it cost", example: 1 }),
    created_at: z.string().openapi({ description: "When", example: "2026-05-01T12:00:00.000Z" }),
  })
  .openapi("AiContentItem");

export const AiContentList = pageSchema(AiContentItem, "AiContentList", {
  data: "Texts and banners, newest first",
  nextCursor: "Pass as `cursor` for older items; null on the last page",
});

export const AiContentListQuery = pageQuery({ defaultLimit: 50, cursorExample: "aic_01JD3X6W6X8Q3M1B0V4T2Y9ZKA" }).extend({
  kind: z
    .enum([...TEXT_KINDS, "banner"])
    .optional()
    .openapi({ description: "Only this kind", example: "sms" }),
});

export type TextInput = z.infer<typeof TextBody>;
export type AiTextView = z.infer<typeof AiText>;
export type AiContentView = z.infer<typeof AiContentItem>;

export const BannerBody = z
  .object({
    prompt: PromptText.openapi({ description: "What the banner shows", example: "Diwali sweets on a festive table with diyas" }),
    size: z.string().max(20).optional().openapi({
      description: "dall-e-3: 1024x1024 (default), 1792x1024, 1024x1792; gpt-image-1: 1024x1024 (default), 1536x1024, 1024x1536",
      example: "1792x1024",
    }),
    style: z.string().max(20).optional().openapi({ description: "dall-e-3: vivid (default) or natural; gpt-image-1 and dall-e-2 take none", example: "vivid" }),
    headline: z
      .string()
      .trim()
      .min(1)
      .max(120)
      .refine(noNul, "NUL characters are not allowed")
      .optional()
      .openapi({ description: "Words to letter on the banner", example: "20% off all sweets" }),
  })
  .openapi("AiBannerRequest");

export const Banner = z
  .object({
    id: z.string().openapi({ description: "Content id (in `GET /v1/ai/content`)", example: "aic_01JD3X6W6X8Q3M1B0V4T2Y9ZKA" }),
    file_id: z.string().openapi({ description: "The stored PNG", example: "file_01JD3X6W6X8Q3M1B0V4T2Y9ZKA" }),
    url: z.string().openapi({
      description: "A signed link to the PNG (see `POST /v1/files/{id}/url`)",
      example: "https://api.billx.dev/v1/files/file_01JD.../content?token=eyJ...",
    }),
    expires_at: z.string().openapi({ description: "When the link stops working", example: "2026-05-01T12:15:00.000Z" }),
    file: FileSchema,
    model: z.string().openapi({ description: "The Images API model (OPENAI_IMAGE_MODEL)", example: "dall-e-3" }),
    size: z.string().openapi({ description: "Pixels, width x height", example: "1792x1024" }),
    style: z.string().nullable().openapi({ description: "The model's style, or null for models without one", example: "vivid" }),
    revised_prompt: z.string().nullable().openapi({ description: "dall-e-3's rewrite of the prompt it drew", example: null }),
    credits_charged: z.number().int().openapi({ description: "Credits for the image", example: 96 }),
    balance: z.number().int().openapi({ description: "Credits left", example: 904 }),
  })
  .openapi("AiBanner");

export type BannerView = z.infer<typeof Banner>;
