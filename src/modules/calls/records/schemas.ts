import { z } from "@hono/zod-openapi";
import { CALL_DIRECTIONS, CALL_STATUSES, CALL_TURN_ROLES } from "../../../db/schema";
import { pathId } from "../../../lib/openapi";
import { pageQuery, pageSchema } from "../../../lib/pagination";
import { E164 } from "../../../lib/phone";
import { ASSISTANT_ID_EXAMPLE } from "../../assistants/assistants/schemas";

export const CALL_ID_EXAMPLE = "call_01JD3X6W6X8Q3M1B0V4T2Y9ZKC";
const AT = "2026-05-01T11:00:00.000Z";

const TranscriptTurn = z
  .object({
    role: z.enum(CALL_TURN_ROLES).openapi({ description: "Who spoke: caller, assistant, or a tool's result", example: "caller" }),
    text: z.string().openapi({ description: "What was said", example: "Can I book a cleaning on Friday?" }),
    at: z.string().openapi({ description: "When it was said", example: AT }),
  })
  .openapi("CallTranscriptTurn");

const UsageLineSchema = z
  .object({
    provider: z.string().openapi({ description: "Who did the work", example: "openai" }),
    model: z.string().openapi({ description: "The model", example: "gpt-4o-mini-realtime-preview" }),
    input_tokens: z.number().int().openapi({ description: "Input tokens (text and audio)", example: 5120 }),
    output_tokens: z.number().int().openapi({ description: "Output tokens (text and audio)", example: 2310 }),
    audio_seconds: z.number().openapi({ description: "Seconds of audio", example: 184 }),
    credits: z.number().int().openapi({ description: "Credits this part cost", example: 368 }),
  })
  .openapi("CallUsageLine");

export const CallSchema = z
  .object({
    id: z.string().openapi({ description: "Call id", example: CALL_ID_EXAMPLE }),
    call_sid: z.string().openapi({ description: "Twilio's CallSid", example: "CA0123456789abcdef0123456789abcdef" }),
    assistant_id: z.string().openapi({ description: "The assistant on the call", example: ASSISTANT_ID_EXAMPLE }),
    from: z.string().openapi({ description: "The caller's number", example: "+14155550100" }),
    to: z.string().openapi({ description: "The number called", example: "+15125550123" }),
    direction: z.enum(CALL_DIRECTIONS).openapi({ description: "inbound (someone called the assistant) or outbound", example: "inbound" }),
    status: z.enum(CALL_STATUSES).openapi({ description: "Where the call is", example: "completed" }),
    started_at: z.string().openapi({ description: "When Twilio handed us the call", example: AT }),
    answered_at: z.string().nullable().openapi({ description: "When the assistant first heard the caller", example: AT }),
    ended_at: z.string().nullable().openapi({ description: "When it ended; null while it goes on", example: "2026-05-01T11:03:04.000Z" }),
    duration_s: z.number().int().nullable().openapi({ description: "Seconds from answer to end", example: 184 }),
    end_reason: z
      .string()
      .nullable()
      .openapi({ description: "Why it ended, e.g. caller_hung_up, end_call, no_credits, twilio_busy", example: "caller_hung_up" }),
    transcript: z.array(TranscriptTurn).optional().openapi({ description: "The turns in order (in `GET /v1/calls/{id}` only)" }),
    usage: z.array(UsageLineSchema).openapi({ description: "What the call consumed, per model; empty until it ends" }),
    cost: z
      .object({ credits: z.number().int().openapi({ description: "Credits charged", example: 368 }) })
      .nullable()
      .openapi({ description: "What the call cost; null while it goes on" }),
  })
  .openapi("Call");

export const CallList = pageSchema(CallSchema, "CallList", {
  data: "Calls, newest first, without transcripts",
  nextCursor: "Pass as `cursor` for older calls; null on the last page",
});

export const CallListQuery = pageQuery({ defaultLimit: 50, cursorExample: CALL_ID_EXAMPLE }).extend({
  assistant_id: z.string().max(100).optional().openapi({ description: "Only this assistant's calls", example: ASSISTANT_ID_EXAMPLE }),
  status: z.enum(CALL_STATUSES).optional().openapi({ description: "Only calls in this status", example: "completed" }),
  from: z.coerce.date().optional().openapi({ description: "Calls started at or after this date-time (or date)", example: "2026-05-01" }),
  to: z.coerce.date().optional().openapi({ description: "Calls started before this date-time (or date)", example: "2026-06-01" }),
});

export const CallIdParam = z.object({
  id: pathId("id", "call", "Call id", CALL_ID_EXAMPLE),
});

export const PlaceCallBody = z
  .object({
    assistant_id: z.string().max(100).openapi({ description: "The assistant that makes the call, from its first number", example: ASSISTANT_ID_EXAMPLE }),
    to: z.string().regex(E164, "must be an E.164 number such as +14155550100").openapi({ description: "Who to call, in E.164", example: "+14155550100" }),
  })
  .openapi("PlaceCall");

export type Call = z.infer<typeof CallSchema>;
export type PlaceCallInput = z.infer<typeof PlaceCallBody>;
export type CallListInput = z.infer<typeof CallListQuery>;
