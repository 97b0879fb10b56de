import { z } from "@hono/zod-openapi";

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
