/**
 * The Realtime session a call runs in, built from its assistant: who it is, the business's hours,
 * what it may do (function tools), and g711 u-law in and out, so Twilio's audio goes to the model
 * and back byte for byte with no resampling.
 */
import type { Assistant } from "../../assistants/assistants/schemas";

/** The transcription model behind the call's transcript of the caller. */
const TRANSCRIPTION_MODEL = "gpt-4o-mini-transcribe";

export type CallToolName = "check_availability" | "book_appointment" | "cancel_booking" | "search_knowledge" | "ask_database" | "transfer_call" | "end_call";

export interface RealtimeFunctionTool {
  type: "function";
  name: CallToolName;
  description: string;
  parameters: Record<string, unknown>;
}

const TOOL_DEFINITIONS: Record<CallToolName, RealtimeFunctionTool> = {
  check_availability: {
    type: "function",
    name: "check_availability",
    description: "Free appointment slots of one local day (YYYY-MM-DD, default today). Call it before offering or booking a time.",
    parameters: { type: "object", properties: { date: { type: "string", description: "Local date, YYYY-MM-DD" } }, additionalProperties: false },
  },
  book_appointment: {
    type: "function",
    name: "book_appointment",
    description: "Books a slot returned by check_availability for the caller. Confirm the time and the caller's name first.",
    parameters: {
      type: "object",
      properties: {
        start: { type: "string", description: "The slot's start as given by check_availability (ISO 8601 UTC)" },
        customer_name: { type: "string", description: "Who the appointment is for" },
        details: { type: "string", description: "What it is about" },
      },
      required: ["start", "customer_name"],
      additionalProperties: false,
    },
  },
  cancel_booking: {
    type: "function",
    name: "cancel_booking",
    description:
      "Cancels the caller's appointment: by its id (as book_appointment returned it), or by its start time, found among the bookings made from the caller's phone number. Confirm with the caller first.",
    parameters: {
      type: "object",
      properties: {
        booking_id: { type: "string", description: "The booking's id, when known" },
        start: { type: "string", description: "The appointment's start (ISO 8601), when the id is not known" },
      },
      additionalProperties: false,
    },
  },
  search_knowledge: {
    type: "function",
    name: "search_knowledge",
    description: "Searches the business's documents (prices, services, policies). Answer from what it returns.",
    parameters: { type: "object", properties: { query: { type: "string", description: "What to look up" } }, required: ["query"], additionalProperties: false },
  },
  ask_database: {
    type: "function",
    name: "ask_database",
    description: "Asks the business's database a question in plain language (orders, stock, accounts) and returns rows.",
    parameters: {
      type: "object",
      properties: { question: { type: "string", description: "The question" } },
      required: ["question"],
      additionalProperties: false,
    },
  },
  transfer_call: {
    type: "function",
    name: "transfer_call",
    description:
      "Puts the caller through to a person at the business. Use it when the caller asks for a human or you cannot help. After it answers, say one short line (e.g. that you are putting them through); the transfer follows once it has played.",
    parameters: { type: "object", properties: { reason: { type: "string", description: "Why the caller wants a person" } }, additionalProperties: false },
  },
  end_call: {
    type: "function",
    name: "end_call",
    description: "Ends the call after you have said goodbye. Use it when the caller is done.",
    parameters: { type: "object", properties: { reason: { type: "string", description: "Why the call ends" } }, additionalProperties: false },
  },
};

/** The assistant's tools the bridge can run on a call (ask_database only with a linked database). */
export function callTools(assistant: Pick<Assistant, "tools" | "database_id">): RealtimeFunctionTool[] {
  return assistant.tools
    .filter((tool): tool is CallToolName => tool in TOOL_DEFINITIONS)
    .filter((tool) => tool !== "ask_database" || assistant.database_id !== null)
    .map((tool) => TOOL_DEFINITIONS[tool]);
}

export type SessionAssistant = Pick<
  Assistant,
  "name" | "business_name" | "business_description" | "timezone" | "weekly_hours" | "language" | "greeting" | "instructions" | "voice" | "tools" | "database_id"
>;

/** What the model is told to be. The assistant's own instructions come last, so they win over the defaults. */
export function callInstructions(assistant: SessionAssistant): string {
  const hours = Object.entries(assistant.weekly_hours)
    .map(([day, ranges]) => `${day} ${(ranges ?? []).map(([from, to]) => `${from}-${to}`).join(", ")}`)
    .join("; ");
  const lines = [
    `You are ${assistant.name}, the phone receptionist of ${assistant.business_name}.`,
    assistant.business_description ? `About the business: ${assistant.business_description}` : null,
    `Opening hours (${assistant.timezone}): ${hours || "not set"}.`,
    `Speak ${assistant.language}. Keep answers short: this is a phone call.`,
    assistant.greeting ? `Start the call by saying: "${assistant.greeting}"` : "Start the call by greeting the caller and saying who you are.",
    "Never invent free times, prices or facts: use your tools. Say goodbye before you end the call.",
    assistant.instructions ? `Instructions from the business: ${assistant.instructions}` : null,
  ];
  return lines.filter((line): line is string => line !== null).join("\n");
}

/** The `session.update` (GA shape) that configures the call's Realtime session. */
export function sessionUpdate(assistant: SessionAssistant): Record<string, unknown> {
  return {
    type: "session.update",
    session: {
      type: "realtime",
      instructions: callInstructions(assistant),
      output_modalities: ["audio"],
      audio: {
        input: {
          format: { type: "audio/pcmu" },
          transcription: { model: TRANSCRIPTION_MODEL },
          turn_detection: { type: "server_vad", create_response: true, interrupt_response: true },
        },
        output: { format: { type: "audio/pcmu" }, voice: assistant.voice },
      },
      tools: callTools(assistant),
      tool_choice: "auto",
    },
  };
}
