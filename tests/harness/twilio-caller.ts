/**
 * A phone caller as Twilio Media Streams presents one, for test files running in workerd: the
 * protocol itself is ./twilio-stream.ts; this opens the stream WebSocket (`SELF.fetch` with
 * `Upgrade: websocket`, or any fetcher such as a CallSession stub) and reads the shared Twilio and
 * audio data through the harness.
 */
import { SELF } from "cloudflare:test";
import { inject } from "vitest";
import { audioData, audioManifest } from "./fakes";
import { attachCall, type CallOptions, fromBase64, StreamRefused, type TwilioCall } from "./twilio-stream";

export * from "./twilio-stream";

/** Opens the stream at `url` and starts the call (unless `options.start` is false). Throws StreamRefused when not upgraded. */
export async function connectCall(url: string, options: CallOptions = {}): Promise<TwilioCall> {
  const via = options.via ?? SELF;
  const response = await via.fetch(url, { headers: { Upgrade: "websocket", ...options.headers } });
  if (response.status !== 101 || !response.webSocket) throw new StreamRefused(response.status, await response.text());
  response.webSocket.accept();
  return attachCall(response.webSocket, options);
}

// ---------------------------------------------------------------- shared data

/** One line of the captured session: `{at, direction, message}`. */
export interface CapturedTwilioMessage {
  at: string;
  direction: "from_twilio" | "to_twilio";
  message: Record<string, unknown> & { event: string };
}

/** The real captured Media Streams session (`../shared/data/twilio/media-stream-session.jsonl`), line by line. */
export async function capturedSession(): Promise<CapturedTwilioMessage[]> {
  const response = await fetch(`${inject("harnessUrl")}/twilio-data/${encodeURIComponent("media-stream-session.jsonl")}`);
  if (!response.ok) throw new Error(`twilio data: ${response.status} ${await response.text()}`);
  const text = new TextDecoder().decode(await response.arrayBuffer());
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as CapturedTwilioMessage);
}

/** The caller audio of the captured session's `media` frames (160 bytes each), to replay with `call.sendFrame`. */
export async function capturedMediaFrames(): Promise<Uint8Array[]> {
  return (await capturedSession())
    .filter((line) => line.direction === "from_twilio" && line.message.event === "media")
    .map((line) => fromBase64(String((line.message.media as { payload?: unknown } | undefined)?.payload ?? "")) ?? new Uint8Array(0));
}

/** The u-law recording of the shared audio data whose text contains `words` (e.g. "book an appointment"). */
export async function callerRecording(words: string): Promise<{ text: string; ulaw: Uint8Array; durationMs: number }> {
  const recording = (await audioManifest()).find((entry) => entry.text.toLowerCase().includes(words.toLowerCase()));
  if (!recording) throw new Error(`no shared recording says "${words}"`);
  return { text: recording.text, ulaw: await audioData(recording.ulaw), durationMs: recording.duration_ms };
}
