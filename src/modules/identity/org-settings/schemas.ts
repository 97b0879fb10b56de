import { z } from "@hono/zod-openapi";
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

export const OrgSettings = z.object({ speech: SpeechSettings, messages: MessageSettings, bills: BillSettings }).openapi("OrgSettings");

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
  })
  .strict()
  .openapi("UpdateOrgSettings");

export type OrgSettingsView = z.infer<typeof OrgSettings>;
export type UpdateOrgSettingsInput = z.infer<typeof UpdateOrgSettingsBody>;
