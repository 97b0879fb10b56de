import { z } from "@hono/zod-openapi";

export const BILL_SEND_CHANNELS = ["sms", "whatsapp", "email"] as const;
export type BillSendChannel = (typeof BILL_SEND_CHANNELS)[number];

export const SendBillBody = z
  .object({
    channel: z.enum(BILL_SEND_CHANNELS).openapi({
      description: "How to reach the customer: `sms` and `whatsapp` use their phone number, `email` their email address",
      example: "email",
    }),
  })
  .openapi("SendBillRequest");

export const SentBill = z
  .object({
    message_id: z.string().openapi({ description: "The queued message; follow its delivery at /v1/messages/{id}", example: "msg_01JD3X6W6X8Q3M1B0V4T2Y9ZKA" }),
    channel: z.enum(BILL_SEND_CHANNELS).openapi({ description: "The channel it goes out on", example: "email" }),
    recipient: z.string().openapi({ description: "The customer's phone number or email address it goes to", example: "asha@example.com" }),
    url: z.string().openapi({
      description: "The signed public link in the message: the bill as a web page, `?format=pdf` for a PDF",
      example: "https://api.billx.dev/b/eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIiwidHlwIjoiYmlsbC1saW5rK2p3dCJ9.eyJvcmciOiJvcmdfMDEifQ.c2ln",
    }),
    expires_at: z.string().openapi({ description: "When the link stops working (BILL_LINK_TTL_DAYS after sending)", example: "2026-06-01T12:00:00.000Z" }),
  })
  .openapi("SentBill");

export const BillLinkParam = z.object({
  token: z.string().openapi({
    param: { name: "token", in: "path" },
    description: "The signed token from a bill message",
    example: "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIiwidHlwIjoiYmlsbC1saW5rK2p3dCJ9.eyJvcmciOiJvcmdfMDEifQ.c2ln",
  }),
});

export const BillLinkQuery = z.object({
  format: z.enum(["html", "pdf"]).optional().openapi({ description: "`pdf` for a PDF download; the web page otherwise", example: "pdf" }),
});

export type SendBillInput = z.infer<typeof SendBillBody>;
export type SentBillView = z.infer<typeof SentBill>;
