import { z } from "@hono/zod-openapi";
import { E164 } from "../../../lib/phone";
import { Email } from "./schemas";

const Phone = z
  .string()
  .regex(E164, "Enter a phone number in E.164 form, e.g. +14155550100")
  .openapi({ description: "Phone number in E.164 form; the code goes by SMS", example: "+14155550100" });

const OtpEmail = Email.optional().openapi({ description: "Email address of the account; the code goes by email", example: "ada@example.com" });

// Exactly one recipient: with both, which one the code went to would be a guess.
function exactlyOneRecipient(body: { email?: string; phone?: string }, ctx: z.RefinementCtx): void {
  const given = Number(body.email !== undefined) + Number(body.phone !== undefined);
  if (given !== 1) ctx.addIssue({ code: "custom", path: [], message: "Send exactly one of email or phone" });
}

export const OtpSendBody = z.object({ email: OtpEmail, phone: Phone.optional() }).superRefine(exactlyOneRecipient).openapi("OtpSendRequest");

export const OtpVerifyBody = z
  .object({
    email: OtpEmail,
    phone: Phone.optional(),
    code: z
      .string()
      .regex(/^\d{6}$/, "The code has 6 digits")
      .openapi({ description: "The 6-digit code from the email or SMS, valid 10 minutes, 5 tries", example: "042137" }),
  })
  .superRefine(exactlyOneRecipient)
  .openapi("OtpVerifyRequest");

export const Accepted = z
  .object({
    status: z.literal("sent").openapi({
      description: "Always `sent`, whether or not an account exists: the answer never reveals one",
      example: "sent",
    }),
  })
  .openapi("Accepted");

export const PasswordResetRequestBody = z.object({ email: Email }).openapi("PasswordResetRequest");

export const PasswordResetConfirmBody = z
  .object({
    token: z
      .string()
      .min(1)
      .max(200)
      .openapi({ description: "The `token` parameter of the link in the reset email", example: "Q2hhbmdlIG1lIHRvIGEgcmVhbCB0b2tlbg" }),
    password: z
      .string()
      .min(1)
      .max(1024)
      .openapi({ description: "The new password: at least 10 characters, mixing letters with digits or symbols", example: "correct-horse-42" }),
  })
  .openapi("PasswordResetConfirmRequest");
