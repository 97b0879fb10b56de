import { createRoute, z } from "@hono/zod-openapi";
import { Unprocessable } from "../../../lib/errors";
import { createRouter, fieldErrors, idempotencyHeader, jsonResponse, problem, problemResponses } from "../../../lib/openapi";
import { AssistantSchema, CreateAssistantBody } from "../../assistants/assistants/schemas";
import { MAX_FILES_PER_UPLOAD } from "../../assistants/knowledge/documents";
import { DocumentSchema } from "../../assistants/knowledge/schemas";
import { authed } from "../../identity/auth/route-security";
import { AttachPhoneNumberBody, PhoneNumberSchema } from "../numbers/schemas";
import { onboardAssistant } from "./service";

const tags = ["Phone calls"];

// Fields whose form value is JSON text (objects, arrays, numbers); every other field is text as sent.
const JSON_FIELDS = new Set([
  "weekly_hours",
  "closed_dates",
  "tools",
  "available_days",
  "slot_duration",
  "buffer_minutes",
  "min_notice_minutes",
  "horizon_days",
  "booking_duration_minutes",
]);
const NUMBER_FIELDS = new Set(["phone_number", "area_code"]);

const OnboardForm = z
  .object({
    // Optional here: CreateAssistantBody decides what is required, with the JSON create's messages.
    name: z.string().optional().openapi({ description: "Any field of CreateAssistantRequest goes in a part of its own", example: "Ava" }),
    business_name: z.string().optional().openapi({ example: "Bright Smile Dental" }),
    timezone: z.string().optional().openapi({ example: "America/Chicago" }),
    weekly_hours: z.string().optional().openapi({
      description: "JSON text, as `weekly_hours` of CreateAssistantRequest (so are `closed_dates`, `tools`, `available_days` and the numeric fields)",
      example: '{"mon":[["09:00","17:00"]]}',
    }),
    files: z
      .any()
      .optional()
      .openapi({
        type: "array",
        items: { type: "string", format: "binary" },
        description: `0 to ${MAX_FILES_PER_UPLOAD} knowledge documents: PDF, plain text, Markdown or HTML`,
      }),
    phone_number: z.string().optional().openapi({ description: "A number of the Twilio account to attach (E.164)", example: "+15125550123" }),
    area_code: z.string().optional().openapi({ description: "Or buy a number in this area code", example: "512" }),
  })
  .passthrough()
  .openapi("OnboardForm");

const Onboarded = z
  .object({
    assistant: AssistantSchema,
    documents: z.array(DocumentSchema).openapi({ description: "The documents, queued for indexing" }),
    phone_number: PhoneNumberSchema.nullable().openapi({ description: "The attached number; null when none was asked for" }),
    message: z.string().openapi({ example: "Forward calls to +15125550123" }),
  })
  .openapi("Onboarded");

const onboardRoute = createRoute({
  tags,
  method: "post",
  path: "/v1/assistants/onboard",
  summary: "Create an assistant, queue its documents and attach its phone number in one request",
  description:
    "Multipart form: the fields of `POST /v1/assistants` (structured and numeric ones as JSON text), `files` (repeat it; the limits of the document upload), and optionally `phone_number` (attach a number the Twilio account owns) or `area_code` (buy one), not both. Every field, file and the number's format, plan place and availability are checked before anything is created: a 422/415/409/403 creates nothing. The number is attached last, since it talks to Twilio: when that fails the assistant and its documents are **kept** (not rolled back) and the problem carries `kept: {assistant_id, document_ids}` with the attach's own status (e.g. 502 when Twilio fails, 409 when the number was taken meanwhile); retry with `POST /v1/assistants/{id}/phone-numbers`. With `Idempotency-Key`, repeating the request is always safe: the repeat answers 200 with the same assistant, stores any document the first try did not, and attaches a number only if none was attached (never a second purchase); the same key with other fields or files is a 409.",
  ...authed("assistants:write"),
  request: {
    headers: idempotencyHeader("the same onboarding back, finishing what the first try left undone", "onboard-7f3a9c"),
    body: { required: true, content: { "multipart/form-data": { schema: OnboardForm } } },
  },
  responses: {
    201: jsonResponse(Onboarded, "Created, with the number to forward calls to"),
    200: jsonResponse(Onboarded, "A repeat of an earlier request with this Idempotency-Key"),
    413: problem("The upload is too large"),
    415: problem("A file is not a kind the knowledge base reads"),
    ...problemResponses,
  },
});

type FormValue = string | File | (string | File)[];

/** The uploaded files under `files` or `files[]`; a text value there is a 422. */
function formFiles(form: Record<string, FormValue>): File[] {
  const values = [form.files, form["files[]"]].flatMap((v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]));
  if (values.some((v) => !(v instanceof File))) throw new Unprocessable([{ path: "files", message: "must be files, not text fields" }]);
  return values as File[];
}

/** The text parts other than files, each given once, JSON fields parsed: 422 naming the part otherwise. */
function textParts(form: Record<string, FormValue>): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(form)) {
    if (key === "files" || key === "files[]") continue;
    if (typeof value !== "string") throw new Unprocessable([{ path: key, message: "must be one text part" }]);
    if (!JSON_FIELDS.has(key)) {
      fields[key] = value;
      continue;
    }
    try {
      fields[key] = JSON.parse(value);
    } catch {
      throw new Unprocessable([{ path: key, message: "must be JSON text" }]);
    }
  }
  return fields;
}

export const onboardingRoutes = createRouter().openapi(onboardRoute, async (c) => {
  const form = c.req.valid("form") as Record<string, FormValue>;
  const files = formFiles(form);
  const parts = textParts(form);
  const numberParts = Object.fromEntries(Object.entries(parts).filter(([key]) => NUMBER_FIELDS.has(key)));
  const assistantParts = Object.fromEntries(Object.entries(parts).filter(([key]) => !NUMBER_FIELDS.has(key)));
  const assistant = CreateAssistantBody.safeParse(assistantParts);
  const number = Object.keys(numberParts).length > 0 ? AttachPhoneNumberBody.safeParse(numberParts) : undefined;
  const errors = [...(assistant.success ? [] : fieldErrors(assistant.error)), ...(number && !number.success ? fieldErrors(number.error) : [])];
  if (!assistant.success || (number && !number.success)) throw new Unprocessable(errors);
  const { replayed, ...onboarded } = await onboardAssistant(
    c.var.ctx,
    { assistant: assistant.data, files, number: number?.data },
    c.req.valid("header")["idempotency-key"],
  );
  return c.json(onboarded, replayed ? 200 : 201);
});
