import { z } from "@hono/zod-openapi";

const NO_NUL = (value: string) => !value.includes("\u0000");
const name = (example: string, description: string) =>
  z
    .string()
    .trim()
    .min(1)
    .max(100)
    .refine(NO_NUL, "Must not contain NUL characters")
    .regex(/^[\w.:/-]+$/, "Letters, digits and . _ - : / only")
    .openapi({ description, example });

export const SpeechProviderSchema = z.enum(["openai", "elevenlabs"]);

export const SpeechSettings = z
  .object({
    provider: SpeechProviderSchema.openapi({ description: "Speech provider used when a request names none", example: "openai" }),
    stt_model: z.string().openapi({ description: "Speech-to-text model of that provider", example: "whisper-1" }),
    tts_model: z.string().openapi({ description: "Text-to-speech model of that provider", example: "gpt-4o-mini-tts" }),
    voice: z.string().openapi({ description: "Voice id of that provider", example: "alloy" }),
    defaults: z
      .array(z.enum(["provider", "stt_model", "tts_model", "voice"]))
      .openapi({ description: "Which of these are the platform's defaults rather than the organisation's choice", example: ["voice"] }),
  })
  .openapi("SpeechSettings");

export const MessageSettings = z
  .object({
    payment_receipts: z.boolean().openapi({ description: "Customers get a receipt by message when a payment is recorded on their bill", example: true }),
  })
  .openapi("MessageSettings");

export const OrgSettings = z.object({ speech: SpeechSettings, messages: MessageSettings }).openapi("OrgSettings");

export const UpdateOrgSettingsBody = z
  .object({
    speech: z
      .object({
        provider: SpeechProviderSchema.nullable().optional().openapi({ description: "null goes back to the platform default", example: "elevenlabs" }),
        stt_model: name("scribe_v1", "null goes back to the provider's default").nullable().optional(),
        tts_model: name("eleven_flash_v2_5", "null goes back to the provider's default").nullable().optional(),
        voice: name("21m00Tcm4TlvDq8ikWAM", "null goes back to the provider's default").nullable().optional(),
      })
      .strict()
      .optional(),
    messages: z
      .object({
        payment_receipts: z.boolean().nullable().optional().openapi({ description: "false stops payment receipts; null goes back to on", example: false }),
      })
      .strict()
      .optional(),
  })
  .strict()
  .openapi("UpdateOrgSettings");

export type OrgSettingsView = z.infer<typeof OrgSettings>;
export type UpdateOrgSettingsInput = z.infer<typeof UpdateOrgSettingsBody>;
