import { z } from "@hono/zod-openapi";
import { pageQuery, pageSchema } from "../../../lib/pagination";

const CAMPAIGN_ID_EXAMPLE = "cmp_01JD3X6W6X8Q3M1B0V4T2Y9ZKA";
const noNul = (value: string) => !value.includes("\u0000");

export const Audience = z
  .object({
    tags: z
      .array(z.string().trim().min(1).max(50).refine(noNul, "NUL characters are not allowed"))
      .max(20)
      .optional()
      .openapi({ description: "Customers with any of these tags", example: ["vip"] }),
    owing: z.boolean().optional().openapi({ description: "Customers whose balance is above zero", example: false }),
    all: z.boolean().optional().openapi({ description: "Every customer", example: false }),
  })
  .openapi("CampaignAudience");

export const CreateCampaignBody = z
  .object({
    channel: z.enum(["sms", "whatsapp", "email"]).openapi({ description: "How each customer is reached (their phone, or email)", example: "sms" }),
    message: z
      .string()
      .trim()
      .min(1)
      .max(4096)
      .refine(noNul, "NUL characters are not allowed")
      .optional()
      .openapi({ description: "The text; or give `ai_content_id`", example: "Diwali sale! 20% off all sweets till Sunday." }),
    ai_content_id: z
      .string()
      .max(100)
      .optional()
      .openapi({ description: "An AI text (`POST /v1/ai/text`) to send instead of `message`", example: "aic_01JD3X6W6X8Q3M1B0V4T2Y9ZKA" }),
    banner_file_id: z.string().max(100).optional().openapi({ description: "An image file kept with the campaign", example: "file_01JD3X6W6X8Q3M1B0V4T2Y9ZKA" }),
    audience: Audience,
    send_at: z.iso
      .datetime({ offset: true })
      .optional()
      .openapi({ description: "When to send (the five-minute cron starts it); now when omitted", example: "2026-11-01T09:00:00Z" }),
  })
  .openapi("CreateCampaign");

export const CampaignSchema = z
  .object({
    id: z.string().openapi({ description: "Campaign id", example: CAMPAIGN_ID_EXAMPLE }),
    channel: z.enum(["sms", "whatsapp", "email"]).openapi({ description: "Channel", example: "sms" }),
    message: z.string().openapi({ description: "What each customer receives", example: "Diwali sale! 20% off all sweets till Sunday." }),
    ai_content_id: z.string().nullable().openapi({ description: "The AI text it came from", example: null }),
    banner_file_id: z.string().nullable().openapi({ description: "The banner kept with it", example: null }),
    audience: Audience,
    send_at: z.string().nullable().openapi({ description: "When it is (or was) due", example: null }),
    status: z
      .enum(["scheduled", "sending", "sent", "cancelled"])
      .openapi({ description: "scheduled → sending → sent, or cancelled before it started", example: "sent" }),
    counts: z
      .object({
        total: z.number().int().openapi({ description: "Messages written", example: 120 }),
        queued: z.number().int().openapi({ description: "Waiting in the outbound queue or being retried", example: 3 }),
        sent: z.number().int().openapi({ description: "Accepted by the provider", example: 40 }),
        delivered: z.number().int().openapi({ description: "Delivered (or read)", example: 75 }),
        failed: z.number().int().openapi({ description: "Failed for good", example: 2 }),
      })
      .openapi({ description: "From the statuses of the campaign's messages" }),
    created_at: z.string().openapi({ description: "Created", example: "2026-10-30T12:00:00.000Z" }),
    started_at: z.string().nullable().openapi({ description: "When it started sending", example: "2026-10-30T12:00:00.000Z" }),
  })
  .openapi("Campaign");

export const CampaignList = pageSchema(CampaignSchema, "CampaignList", {
  data: "Campaigns, newest first",
  nextCursor: "Pass as `cursor` for older campaigns; null on the last page",
});
export const CampaignListQuery = pageQuery({ defaultLimit: 50, cursorExample: CAMPAIGN_ID_EXAMPLE });
export const CampaignIdParam = z.object({
  id: z.string().openapi({ param: { name: "id", in: "path" }, description: "Campaign id", example: CAMPAIGN_ID_EXAMPLE }),
});
