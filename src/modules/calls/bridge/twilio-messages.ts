/**
 * Twilio Media Streams messages (JSON text frames on the call's WebSocket): what Twilio sends,
 * read into a small union, and what we send back. Audio is base64 g711 u-law, 8 kHz mono.
 */

export type TwilioInbound =
  | { event: "connected" }
  | { event: "start"; streamSid: string; callSid: string; customParameters: Record<string, string> }
  | { event: "media"; payload: string }
  | { event: "mark"; name: string }
  | { event: "dtmf"; digit: string }
  | { event: "stop" };

type Json = Record<string, unknown>;

const text = (value: unknown): string | null => (typeof value === "string" ? value : null);
const object = (value: unknown): Json => (value && typeof value === "object" && !Array.isArray(value) ? (value as Json) : {});

/** A Twilio frame, or null for anything we do not act on (other events, malformed JSON, a media frame without audio). */
export function parseTwilioMessage(frame: string): TwilioInbound | null {
  let message: Json;
  try {
    message = object(JSON.parse(frame));
  } catch {
    return null;
  }
  switch (message.event) {
    case "connected":
      return { event: "connected" };
    case "start": {
      const start = object(message.start);
      const streamSid = text(start.streamSid) ?? text(message.streamSid);
      const callSid = text(start.callSid);
      if (!streamSid || !callSid) return null;
      const parameters = Object.fromEntries(Object.entries(object(start.customParameters)).filter(([, v]) => typeof v === "string")) as Record<string, string>;
      return { event: "start", streamSid, callSid, customParameters: parameters };
    }
    case "media": {
      const media = object(message.media);
      const payload = text(media.payload);
      // Only the caller's audio: a stream with both tracks also echoes what we played.
      if (!payload || (media.track !== undefined && media.track !== "inbound")) return null;
      return { event: "media", payload };
    }
    case "mark": {
      const name = text(object(message.mark).name);
      return name ? { event: "mark", name } : null;
    }
    case "dtmf": {
      const digit = text(object(message.dtmf).digit);
      return digit ? { event: "dtmf", digit } : null;
    }
    case "stop":
      return { event: "stop" };
    default:
      return null;
  }
}

export function twilioMedia(streamSid: string, payload: string): string {
  return JSON.stringify({ event: "media", streamSid, media: { payload } });
}

export function twilioMark(streamSid: string, name: string): string {
  return JSON.stringify({ event: "mark", streamSid, mark: { name } });
}

/** Drops the audio Twilio has buffered but not played yet (barge-in); Twilio echoes the marks it dropped. */
export function twilioClear(streamSid: string): string {
  return JSON.stringify({ event: "clear", streamSid });
}
