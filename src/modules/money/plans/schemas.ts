import { z } from "@hono/zod-openapi";
import { SUBSCRIPTION_STATUSES } from "../../../db/schema";
import { PLANS, type PlanId } from "./plans";

const PLAN_IDS = Object.keys(PLANS) as [PlanId, ...PlanId[]];

const Limits = z
  .object({
    organisations: z.number().int().openapi({ description: "Organisations one person may own (the largest plan among those they own decides)", example: 3 }),
    members: z.number().int().openapi({ description: "Members per organisation, pending invitations included", example: 5 }),
    phone_numbers: z.number().int().openapi({ description: "Phone numbers attached to the organisation's assistants, all together", example: 1 }),
  })
  .openapi("PlanLimits");

export const PlanSchema = z
  .object({
    id: z.enum(PLAN_IDS).openapi({ example: "free" }),
    name: z.string().openapi({ example: "Free" }),
    monthly_credits: z.number().int().openapi({ description: "Credits granted each month (1 credit = USD 0.001)", example: 1000 }),
    support: z.enum(["community", "email", "priority"]).openapi({ example: "community" }),
    limits: Limits,
    features: z.array(z.string()).openapi({
      description: "What the plan gives, in words, written from the numbers above; every plan can use every paid feature within its credits",
      example: ["1,000 credits a month", "Own up to 3 organisations"],
    }),
  })
  .openapi("Plan");

export const PlanList = z.object({ data: z.array(PlanSchema) }).openapi("PlanList");

export const OrgPlan = z
  .object({
    plan: PlanSchema,
    subscription: z
      .object({
        status: z.enum(SUBSCRIPTION_STATUSES).openapi({ example: "active" }),
        current_period_end: z.string().nullable().openapi({ description: "ISO 8601", example: "2026-06-01T00:00:00.000Z" }),
      })
      .nullable()
      .openapi({ description: "The Stripe subscription that gives the plan; null on the free plan" }),
    usage: z
      .object({
        members: z.number().int().openapi({ description: "Members plus pending invitations, counted against `limits.members`", example: 2 }),
      })
      .openapi({ description: "What counts against the limits now" }),
  })
  .openapi("OrgPlan");

export type PlanView = z.infer<typeof PlanSchema>;
export type OrgPlanView = z.infer<typeof OrgPlan>;
