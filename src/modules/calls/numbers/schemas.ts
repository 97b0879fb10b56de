import { z } from "@hono/zod-openapi";
import { pathId } from "../../../lib/openapi";
import { pageQuery, pageSchema } from "../../../lib/pagination";
import { E164 } from "../../../lib/phone";
import { ASSISTANT_ID_EXAMPLE } from "../../assistants/assistants/schemas";

export const PHONE_NUMBER_ID_EXAMPLE = "pn_01JD3X6W6X8Q3M1B0V4T2Y9ZKB";

export const PhoneNumberSchema = z
  .object({
    id: z.string().openapi({ description: "Phone number id", example: PHONE_NUMBER_ID_EXAMPLE }),
    assistant_id: z.string().openapi({ description: "The assistant that answers calls to this number", example: ASSISTANT_ID_EXAMPLE }),
    phone_number: z.string().openapi({ description: "The number in E.164", example: "+15125550123" }),
    twilio_sid: z.string().openapi({ description: "Twilio's IncomingPhoneNumber sid", example: "PN0123456789abcdef0123456789abcdef" }),
    created_at: z.string().openapi({ description: "When the number was attached", example: "2026-05-01T11:00:00.000Z" }),
  })
  .openapi("PhoneNumber");

export const AttachPhoneNumberBody = z
  .object({
    phone_number: z
      .string()
      .regex(E164, "must be an E.164 number such as +15125550123")
      .optional()
      .openapi({ description: "A number the Twilio account already owns, in E.164", example: "+15125550123" }),
    area_code: z
      .string()
      .regex(/^\d{3}$/, "must be a three-digit area code")
      .optional()
      .openapi({ description: "Buy a new number in this (US/Canada) area code instead", example: "512" }),
  })
  .refine((body) => (body.phone_number === undefined) !== (body.area_code === undefined), {
    message: "give either phone_number or area_code",
    path: ["phone_number"],
  })
  // One of the two fields, never both: the example must be a body the route accepts.
  .openapi("AttachPhoneNumber", { example: { phone_number: "+15125550123" } });

export const PhoneNumberList = pageSchema(PhoneNumberSchema, "PhoneNumberList", { data: "The assistant's numbers, oldest first" });

export const PhoneNumberListQuery = pageQuery({ defaultLimit: 50, cursorExample: PHONE_NUMBER_ID_EXAMPLE });

export const PhoneNumberIdParam = z.object({
  id: z
    .string()
    .max(100)
    .openapi({ param: { name: "id", in: "path" }, description: "Assistant id", example: ASSISTANT_ID_EXAMPLE }),
  number_id: pathId("number_id", "pn", "Phone number id", PHONE_NUMBER_ID_EXAMPLE),
});

export type PhoneNumber = z.infer<typeof PhoneNumberSchema>;
export type AttachPhoneNumberInput = z.infer<typeof AttachPhoneNumberBody>;
