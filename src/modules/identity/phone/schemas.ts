import { z } from "@hono/zod-openapi";
import { E164 } from "../../../lib/phone";

const Phone = z
  .string()
  .trim()
  .regex(E164, "Enter a phone number in E.164 form, e.g. +14155550100")
  .openapi({ description: "Phone number in E.164 form", example: "+14155550100" });

export const StartPhoneChangeBody = z.object({ phone: Phone }).strict().openapi("StartPhoneChangeRequest");

export const ConfirmPhoneChangeBody = z
  .object({
    phone: Phone,
    code: z
      .string()
      .regex(/^\d{6}$/, "The code has 6 digits")
      .openapi({ description: "The 6-digit code the SMS brought, valid 10 minutes and 5 tries", example: "042137" }),
  })
  .strict()
  .openapi("ConfirmPhoneChangeRequest");

export const PhoneCodeSent = z
  .object({
    status: z.literal("sent"),
    phone: z.string().openapi({ example: "+14155550100" }),
    expires_in_minutes: z.number().int().openapi({ example: 10 }),
  })
  .openapi("PhoneCodeSent");

export const UserWithPhone = z
  .object({
    id: z.string().openapi({ example: "usr_01J9Z5Q4XK3V7M2N8P6R0S1T2U" }),
    email: z.string().openapi({ example: "ada@example.com" }),
    name: z.string().openapi({ example: "Ada Lovelace" }),
    phone: z
      .string()
      .nullable()
      .openapi({ description: "Verified number: owners' SMS and WhatsApp alerts and SMS sign-in codes go here", example: "+14155550100" }),
  })
  .openapi("UserWithPhone");

export type UserWithPhoneView = z.infer<typeof UserWithPhone>;
