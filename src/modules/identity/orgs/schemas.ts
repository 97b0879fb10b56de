import { z } from "@hono/zod-openapi";
import { pathId } from "../../../lib/openapi";
import { pageQuery, pageSchema } from "../../../lib/pagination";

const ORG_ID_EXAMPLE = "org_01JD3X6W6X8Q3M1B0V4T2Y9ZKA";

export const OrgListQuery = pageQuery({ defaultLimit: 20, cursorExample: ORG_ID_EXAMPLE });

export const OrgIdParam = z.object({
  id: pathId("id", "org", "Organisation id; must be the request's active organisation", ORG_ID_EXAMPLE),
});

export const Currency = z
  .string()
  .trim()
  .toUpperCase()
  .regex(/^[A-Z]{3}$/, "Use a three-letter ISO 4217 code such as USD")
  .openapi({ description: "ISO 4217 currency of the organisation's money amounts", example: "EUR" });

const OrgName = z.string().trim().min(1).max(200).openapi({ description: "Display name", example: "Ada's Bakery" });

export const CreateOrgBody = z
  .object({
    name: OrgName,
    currency: Currency.optional().openapi({ description: "ISO 4217 currency; USD when omitted", example: "EUR" }),
  })
  .openapi("CreateOrganizationRequest");

export const PricesIncludeTax = z.boolean().openapi({
  description:
    "Retail: product and line prices already include their tax (bills then extract the tax instead of adding it). Bills keep the rule they were priced with.",
  example: false,
});
const AllowNegativeStock = z.boolean().openapi({
  description: "Retail: a sale may take stock below zero (sell first, count later) instead of being refused with 409",
  example: false,
});

export const UpdateOrgBody = z
  .object({
    name: OrgName.optional(),
    currency: Currency.optional(),
    prices_include_tax: PricesIncludeTax.optional(),
    allow_negative_stock: AllowNegativeStock.optional(),
  })
  .refine((body) => Object.values(body).some((value) => value !== undefined), {
    message: "Send at least one of name, currency, prices_include_tax, allow_negative_stock",
  })
  .openapi("UpdateOrganizationRequest");

export const Org = z
  .object({
    id: z.string().openapi({ description: "Organisation id", example: ORG_ID_EXAMPLE }),
    name: z.string().openapi({ description: "Display name", example: "Ada's Bakery" }),
    currency: z.string().openapi({ description: "ISO 4217 currency", example: "USD" }),
    prices_include_tax: PricesIncludeTax,
    allow_negative_stock: AllowNegativeStock,
    role: z
      .string()
      .nullable()
      .openapi({ description: "The caller's role here: owner, admin, member, viewer or a custom role id; null for an API key", example: "owner" }),
    created_at: z.string().openapi({ description: "When it was created (ISO 8601, UTC)", example: "2025-01-31T09:30:00.000Z" }),
    updated_at: z.string().openapi({ description: "When it last changed (ISO 8601, UTC)", example: "2025-02-01T10:00:00.000Z" }),
  })
  .openapi("Organization");

export const OrgList = pageSchema(Org, "OrganizationList", { data: "The caller's organisations, oldest first" });

export const OrgStats = z
  .object({
    members: z.number().int().openapi({ description: "Members, whatever their role", example: 4 }),
    pending_invitations: z.number().int().openapi({ description: "Invitations neither accepted nor expired", example: 1 }),
    api_keys: z.number().int().openapi({ description: "API keys that are not revoked", example: 2 }),
    custom_roles: z.number().int().openapi({ description: "Custom roles (the four system roles are not counted)", example: 1 }),
  })
  .openapi("OrganizationStats");

export type OrgView = z.infer<typeof Org>;
export type UpdateOrgInput = z.infer<typeof UpdateOrgBody>;
export type OrgStatsView = z.infer<typeof OrgStats>;
