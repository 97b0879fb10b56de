/**
 * OpenAI Realtime events: the server events the bridge acts on, read into one union whatever
 * naming the server speaks (GA `response.output_audio.delta`, beta `response.audio.delta`), and
 * the client events it sends.
 */

export interface RealtimeUsage {
  inputTokens: number;
  outputTokens: number;
  inputAudioTokens: number;
  outputAudioTokens: number;
  cachedTokens: number;
}

export type RealtimeServerEvent =
  | { type: "session_ready" }
  | { type: "response_created" }
  | { type: "speech_started" }
  | { type: "speech_stopped" }
  | { type: "audio_delta"; itemId: string; audio: string }
  | { type: "assistant_transcript"; itemId: string; text: string }
  | { type: "caller_transcript"; itemId: string; text: string }
  | { type: "function_call"; callId: string; name: string; arguments: string }
  | { type: "response_done"; responseId: string; status: string; usage: RealtimeUsage | null }
  | { type: "error"; code: string | null; message: string };

type Json = Record<string, unknown>;
const object = (value: unknown): Json => (value && typeof value === "object" && !Array.isArray(value) ? (value as Json) : {});
const text = (value: unknown): string => (typeof value === "string" ? value : "");
const count = (value: unknown): number => (typeof value === "number" && Number.isFinite(value) ? value : 0);

/** A server event the bridge acts on, or null for the many it does not need (deltas of transcripts, item bookkeeping). */
export function readRealtimeEvent(frame: string): RealtimeServerEvent | null {
  let event: Json;
  try {
    event = object(JSON.parse(frame));
  } catch {
    return null;
  }
  switch (event.type) {
    case "session.updated":
      return { type: "session_ready" };
    case "response.created":
      return { type: "response_created" };
    case "input_audio_buffer.speech_started":
      return { type: "speech_started" };
    case "input_audio_buffer.speech_stopped":
      return { type: "speech_stopped" };
    case "response.output_audio.delta":
    case "response.audio.delta":
      return { type: "audio_delta", itemId: text(event.item_id), audio: text(event.delta) };
    case "response.output_audio_transcript.done":
    case "response.audio_transcript.done":
      return { type: "assistant_transcript", itemId: text(event.item_id), text: text(event.transcript) };
    case "conversation.item.input_audio_transcription.completed":
      return { type: "caller_transcript", itemId: text(event.item_id), text: text(event.transcript) };
    case "response.function_call_arguments.done":
      return { type: "function_call", callId: text(event.call_id), name: text(event.name), arguments: text(event.arguments) };
    case "response.done": {
      const response = object(event.response);
      return { type: "response_done", responseId: text(response.id), status: text(response.status), usage: readUsage(response.usage) };
    }
    case "error": {
      const error = object(event.error);
      return { type: "error", code: typeof error.code === "string" ? error.code : null, message: text(error.message) };
    }
    default:
      return null;
  }
}

function readUsage(value: unknown): RealtimeUsage | null {
  if (!value || typeof value !== "object") return null;
  const usage = object(value);
  const input = object(usage.input_token_details);
  const output = object(usage.output_token_details);
  return {
    inputTokens: count(usage.input_tokens),
    outputTokens: count(usage.output_tokens),
    inputAudioTokens: count(input.audio_tokens),
    outputAudioTokens: count(output.audio_tokens),
    cachedTokens: count(input.cached_tokens),
  };
}

export const appendAudio = (audio: string) => JSON.stringify({ type: "input_audio_buffer.append", audio });
export const createResponse = () => JSON.stringify({ type: "response.create" });
export const cancelResponse = () => JSON.stringify({ type: "response.cancel" });

export function truncateItem(itemId: string, audioEndMs: number): string {
  return JSON.stringify({ type: "conversation.item.truncate", item_id: itemId, content_index: 0, audio_end_ms: audioEndMs });
}

export function functionCallOutput(callId: string, output: string): string {
  return JSON.stringify({ type: "conversation.item.create", item: { type: "function_call_output", call_id: callId, output } });
}

/** Text the caller "said" without speaking: keypad digits, or the bridge's own prompt (silence, closing). */
export function userText(content: string): string {
  return JSON.stringify({ type: "conversation.item.create", item: { type: "message", role: "user", content: [{ type: "input_text", text: content }] } });
}

/** Sums the usage of every `response.done` of a call. */
export function addUsage(total: RealtimeUsage, more: RealtimeUsage): RealtimeUsage {
  return {
    inputTokens: total.inputTokens + more.inputTokens,
    outputTokens: total.outputTokens + more.outputTokens,
    inputAudioTokens: total.inputAudioTokens + more.inputAudioTokens,
    outputAudioTokens: total.outputAudioTokens + more.outputAudioTokens,
    cachedTokens: total.cachedTokens + more.cachedTokens,
  };
}

export const NO_USAGE: RealtimeUsage = { inputTokens: 0, outputTokens: 0, inputAudioTokens: 0, outputAudioTokens: 0, cachedTokens: 0 };
