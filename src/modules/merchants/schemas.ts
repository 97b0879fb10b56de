import { z } from "@hono/zod-openapi";
import { pageQuery, pageSchema } from "../../lib/pagination";
import { Address, Email, Phone } from "../customers/schemas";

const MERCHANT_ID_EXAMPLE = "mer_01JD3X6W6X8Q3M1B0V4T2Y9ZKA";

const TaxId = z.string().trim().min(1).max(50).openapi({ description: "The supplier's tax registration number (GSTIN, VAT, EIN)", example: "29ABCDE1234F1Z5" });
const Notes = z.string().trim().max(2000).openapi({ description: "Free-text notes", example: "Delivers Mondays and Thursdays" });

export const CreateMerchantBody = z
  .object({
    name: z.string().trim().min(1).max(200).openapi({ description: "Supplier's name", example: "Fresh Farms Wholesale" }),
    phone: Phone.optional(),
    email: Email.optional(),
    address: Address.optional(),
    tax_id: TaxId.optional(),
    notes: Notes.optional(),
  })
  .openapi("CreateMerchantRequest");

export const UpdateMerchantBody = z
  .object({
    name: CreateMerchantBody.shape.name.optional(),
    phone: Phone.nullable().optional(),
    email: Email.nullable().optional(),
    address: Address.nullable().optional(),
    tax_id: TaxId.nullable().optional(),
    notes: Notes.nullable().optional(),
  })
  .openapi("UpdateMerchantRequest");

export const Merchant = z
  .object({
    id: z.string().openapi({ description: "Merchant id", example: MERCHANT_ID_EXAMPLE }),
    name: z.string().openapi({ description: "Supplier's name", example: "Fresh Farms Wholesale" }),
    phone: z.string().nullable().openapi({ description: "Phone number in E.164 form", example: "+14155550100" }),
    email: z.string().nullable().openapi({ description: "Email address", example: "orders@freshfarms.example" }),
    address: z.string().nullable().openapi({ description: "Postal address", example: "Plot 4, APMC Yard, Bengaluru" }),
    tax_id: z.string().nullable().openapi({ description: "Tax registration number", example: "29ABCDE1234F1Z5" }),
    notes: z.string().nullable().openapi({ description: "Free-text notes", example: "Delivers Mondays and Thursdays" }),
    archived_at: z.string().nullable().openapi({ description: "When the merchant was archived, or null", example: null }),
    created_at: z.string().openapi({ description: "When the merchant was added", example: "2026-05-01T11:00:00.000Z" }),
    updated_at: z.string().openapi({ description: "When the merchant last changed", example: "2026-05-01T11:00:00.000Z" }),
  })
  .openapi("Merchant");

export const MerchantList = pageSchema(Merchant, "MerchantList", { data: "Merchants that are not archived, oldest first" });

export const MerchantListQuery = pageQuery({ defaultLimit: 50, cursorExample: MERCHANT_ID_EXAMPLE }).extend({
  q: z.string().trim().min(1).max(100).optional().openapi({ description: "Matches name, phone or email, case-insensitive", example: "fresh" }),
});

export const MerchantIdParam = z.object({
  id: z
    .string()
    .max(100)
    .openapi({ param: { name: "id", in: "path" }, description: "Merchant id", example: MERCHANT_ID_EXAMPLE }),
});

export type CreateMerchantInput = z.infer<typeof CreateMerchantBody>;
export type UpdateMerchantInput = z.infer<typeof UpdateMerchantBody>;
export type MerchantListInput = z.infer<typeof MerchantListQuery>;
export type MerchantView = z.infer<typeof Merchant>;
