import { z } from "@hono/zod-openapi";
import type { LlmProviderName } from "../../../providers/llm";
import { Currency, PricesIncludeTax } from "../orgs/schemas";

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

const TaxRateBps = z.number().int().min(0).max(10_000);
const ReminderDays = z.number().int().min(1).max(365);
const Footer = z.string().trim().min(1).max(500).refine(NO_NUL, "Must not contain NUL characters").openapi({
  description: "A line printed at the foot of every bill page and PDF; null removes it",
  example: "Thank you for shopping with us. GSTIN 29ABCDE1234F1Z5",
});

export const BillSettings = z
  .object({
    currency: z.string().openapi({ description: "ISO 4217 currency new bills, products and customers' balances use", example: "INR" }),
    prices_include_tax: PricesIncludeTax,
    default_tax_rate_bps: TaxRateBps.openapi({
      description: "Tax rate (basis points) of a new product or a bill line without a product when the request names none",
      example: 1800,
    }),
    footer: z.string().nullable().openapi({ description: "Printed at the foot of every bill page and PDF", example: "Thank you for shopping with us." }),
    reminder_interval_days: ReminderDays.openapi({ description: "Days between reminders of an overdue bill", example: 7 }),
  })
  .openapi("BillSettings");

const LLM_PROVIDER_NAMES = ["openai", "anthropic", "google", "xai"] as const satisfies readonly LlmProviderName[];
const LlmProvider = z.enum(LLM_PROVIDER_NAMES).openapi({ description: "A chat model provider (its OpenAI-compatible endpoint)", example: "openai" });
const LlmModel = z
  .string()
  .trim()
  .min(1)
  .max(120)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:/-]*$/, "A model id: letters, digits and . _ : / -")
  .openapi({ description: "A model of that provider", example: "gpt-4o-mini" });

export const LlmSettings = z
  .object({
    provider: LlmProvider,
    model: LlmModel,
    is_default: z.boolean().openapi({ description: "True when the organisation chose none and the platform's default applies" }),
  })
  .openapi("LlmSettings", {
    description: "The chat model the sales chatbot's agents use unless /v1/admin/configs chooses one for an agent",
  });

export const OrgSettings = z.object({ speech: SpeechSettings, messages: MessageSettings, bills: BillSettings, llm: LlmSettings }).openapi("OrgSettings");

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
    bills: z
      .object({
        currency: Currency.optional(),
        prices_include_tax: PricesIncludeTax.optional(),
        default_tax_rate_bps: TaxRateBps.nullable().optional().openapi({ description: "null goes back to 0", example: 1800 }),
        footer: Footer.nullable().optional(),
        reminder_interval_days: ReminderDays.nullable().optional().openapi({ description: "null goes back to the platform's interval", example: 3 }),
      })
      .strict()
      .optional(),
    llm: z
      .object({ provider: LlmProvider, model: LlmModel })
      .strict()
      .nullable()
      .optional()
      .openapi({ description: "Provider and model together (a model belongs to its provider); null goes back to the platform's default" }),
  })
  .strict()
  .openapi("UpdateOrgSettings");

export type OrgSettingsView = z.infer<typeof OrgSettings>;
export type UpdateOrgSettingsInput = z.infer<typeof UpdateOrgSettingsBody>;
