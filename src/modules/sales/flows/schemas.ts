import { z } from "@hono/zod-openapi";
import { STAGES } from "./rules";

const text = (max: number) =>
  z
    .string()
    .trim()
    .min(1)
    .max(max)
    .refine((v) => !v.includes("\u0000"), "NUL characters are not allowed");

const StageName = z.enum(STAGES).openapi({ description: "A stage of the sales flow", example: "consultation" });

export const FlowStage = z
  .object({
    name: StageName,
    goal: z.string().openapi({ description: "What the bot tries to achieve in this stage", example: "Understand the need and match it to a product" }),
    prompt: z
      .string()
      .nullable()
      .openapi({ description: "Instructions the reply agent follows in this stage; null follows the admin prompt stage.<name>", example: null }),
    next: z.array(StageName).openapi({ description: "Stages this one may move to (staying is always allowed)", example: ["testimony", "promo", "closing"] }),
    attachment: z
      .string()
      .nullable()
      .openapi({ description: "An image sent with this stage's reply: an https URL or an R2 key under orgs/{org_id}/", example: null }),
  })
  .openapi("SalesFlowStage");

export const Flow = z
  .object({
    id: z.string().openapi({ description: "Flow id", example: "sfl_01JD3X6W6X8Q3M1B0V4T2Y9ZKA" }),
    agent_id: z.string().openapi({ description: "The usage agent whose activities the conversations are", example: "agt_01JD3X6W6X8Q3M1B0V4T2Y9ZKB" }),
    knowledge_assistant_id: z
      .string()
      .nullable()
      .openapi({ description: "The assistant whose knowledge base the knowledge agent searches, or null", example: null }),
    stages: z.array(FlowStage).openapi({ description: "The stages in order; conversations start in the first (greeting)" }),
    updated_at: z.string().openapi({ description: "When the flow last changed", example: "2026-05-01T12:00:00.000Z" }),
  })
  .openapi("SalesFlow");

export const PutFlowBody = z
  .object({
    stages: z
      .array(
        z.object({
          name: z
            .string()
            .max(40)
            .openapi({ description: `One of ${STAGES.join(", ")}`, example: "greeting" }),
          goal: text(500).openapi({ description: "What the bot tries to achieve in this stage", example: "Welcome the visitor" }),
          prompt: text(4000)
            .nullable()
            .optional()
            .openapi({ description: "Instructions for the reply agent in this stage; null or left out follows the admin prompt stage.<name>", example: null }),
          next: z
            .array(z.string().max(40))
            .max(STAGES.length)
            .openapi({ description: "Stages this one may move to", example: ["opening"] }),
          attachment: z
            .string()
            .trim()
            .min(1)
            .max(1000)
            .nullable()
            .optional()
            .openapi({ description: "An https URL or an R2 key under orgs/{org_id}/ of an image sent with the reply", example: null }),
        }),
      )
      .min(1)
      .max(STAGES.length)
      .openapi({ description: "The stages in the order greeting, opening, consultation, testimony, promo, closing, farewell; some may be left out" }),
    knowledge_assistant_id: z
      .string()
      .max(100)
      .nullable()
      .optional()
      .openapi({ description: "An assistant of the organisation whose knowledge base the knowledge agent searches", example: null }),
  })
  .openapi("PutSalesFlowRequest");

export type FlowView = z.infer<typeof Flow>;
export type PutFlowInput = z.infer<typeof PutFlowBody>;
