import { createRoute } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../../lib/context";
import { Unprocessable } from "../../lib/errors";
import { createRouter, jsonBody, jsonResponse, problem, problemResponses } from "../../lib/openapi";
import { authed } from "../identity/auth/route-security";
import { meterApiUsage } from "../money/credits/metering";
import { audioChat, audioChatJson } from "./audio-chat";
import { audioForLink, audioForMember, storeAudio } from "./audio-store";
import { AudioChatForm, AudioChatResult, AudioIdParam, AudioLinkQuery, StoredAudioSchema, SttForm, TranscriptSchema, TtsBody } from "./schemas";
import { synthesize } from "./synthesize";
import { transcribe } from "./transcribe";

const tags = ["Speech"];
const paidProblems = {
  ...problemResponses,
  402: problem("Not enough credits; the body carries `balance` and `needed`"),
  413: problem("The upload is too large or the recording too long"),
  415: problem("The upload is not audio of a kind we read"),
  502: problem("The provider refused or failed"),
  503: problem("The provider is not configured (the detail names the variable) or busy"),
  504: problem("The provider did not answer in time"),
};
const audioContent = { "audio/*": { schema: { type: "string" as const, format: "binary" } } };

/** Middleware of a paid route: metering wraps authentication so refused calls are counted too. */
function paid(permission: string) {
  const auth = authed(permission);
  return { ...auth, middleware: [meterApiUsage(), ...auth.middleware] };
}

function multipart<T>(schema: T) {
  return { body: { required: true, content: { "multipart/form-data": { schema } } } };
}

/** The uploaded `file` of a form as bytes; missing, or a text field, is a 422. */
async function uploadedBytes(form: { file?: unknown }): Promise<Uint8Array> {
  if (!(form.file instanceof File)) throw new Unprocessable([{ path: "file", message: "attach the recording as a file" }]);
  return new Uint8Array(await form.file.arrayBuffer());
}

/** Where links we hand out point: PUBLIC_API_URL, else the origin this request came to. */
function publicBase(c: Context<AppEnv>): string {
  return c.var.ctx.config.publicApiUrl ?? new URL(c.req.url).origin;
}

const sttRoute = createRoute({
  tags,
  method: "post",
  path: "/v1/stt",
  summary: "Speech to text",
  description:
    "Multipart `file`; the kind is recognised from its bytes (raw u-law needs `format=ulaw_8000`). Charged per audio second; silence answers an empty `text`.",
  ...paid("ai:use"),
  request: multipart(SttForm),
  responses: { 200: jsonResponse(TranscriptSchema, "What was said"), ...paidProblems },
});

const ttsRoute = createRoute({
  tags,
  method: "post",
  path: "/v1/tts",
  summary: "Text to speech",
  description:
    "Answers the audio as the provider streams it, with its Content-Type and `X-Credits-Charged`; with `store: true`, keeps it and answers a link that works for an hour. Charged per thousand characters.",
  ...paid("ai:use"),
  request: jsonBody(TtsBody),
  responses: { 200: { description: "The audio", content: audioContent }, 201: jsonResponse(StoredAudioSchema, "Stored; a link to it"), ...paidProblems },
});

const audioChatRoute = createRoute({
  tags,
  method: "post",
  path: "/v1/query/audio-chat",
  summary: "Ask your data by voice: transcript, guarded SQL, rows and a spoken answer",
  description:
    "Multipart `file` and `database_id` (or none: your own Billx data). The SQL passes the same guard as /v1/query/chat (refused: 422 with `transcript` and the reasons, nothing runs). JSON by default with `audio_url`; `Accept: audio/*` answers the spoken audio itself with the transcript and SQL in headers. One credit hold covers the pipeline. Needs `ai:use`, and `databases:query` with a `database_id` or `analytics:query` without.",
  ...paid("ai:use"),
  request: multipart(AudioChatForm),
  responses: { 200: { description: "The answer", content: { ...jsonResponse(AudioChatResult, "").content, ...audioContent } }, ...paidProblems },
});

const memberAudioRoute = createRoute({
  tags,
  method: "get",
  path: "/v1/audio/{id}",
  summary: "Stored audio of the organisation",
  ...authed("org:read"),
  request: { params: AudioIdParam },
  responses: { 200: { description: "The audio", content: audioContent }, ...problemResponses },
});

const linkAudioRoute = createRoute({
  tags,
  method: "get",
  path: "/v1/audio/{id}/content",
  summary: "Stored audio through its link (no sign-in; the link expires)",
  request: { params: AudioIdParam, query: AudioLinkQuery },
  responses: { 200: { description: "The audio", content: audioContent }, 404: problem("Unknown, expired or wrong link") },
});

/** Header-safe: a header value cannot hold line breaks or non-Latin-1 text. */
function headerText(text: string): string {
  return encodeURIComponent(text.replace(/\s+/g, " ").slice(0, 2000));
}

export const speechRoutes = createRouter()
  .openapi(sttRoute, async (c) => {
    const { file: _file, ...form } = c.req.valid("form");
    return c.json(await transcribe(c.var.ctx, { bytes: await uploadedBytes(c.req.valid("form")), ...form }), 200);
  })
  .openapi(ttsRoute, async (c) => {
    const body = c.req.valid("json");
    const speech = await synthesize(c.var.ctx, body);
    if (body.store) {
      const bytes = new Uint8Array(await new Response(speech.body).arrayBuffer());
      const stored = await storeAudio(c.var.ctx, { bytes, contentType: speech.contentType, source: "tts", baseUrl: publicBase(c) });
      return c.json({ ...stored, usage: { credits: speech.credits } }, 201);
    }
    return new Response(speech.body, {
      status: 200,
      headers: { "content-type": speech.contentType, "x-credits-charged": String(speech.credits), "cache-control": "no-store" },
    }) as never;
  })
  .openapi(audioChatRoute, async (c) => {
    const { file: _file, ...form } = c.req.valid("form");
    const request = { bytes: await uploadedBytes(c.req.valid("form")), ...form };
    if (/^audio\//.test(c.req.header("accept") ?? "")) {
      const { speech, credits, transcript, sql, answer_text } = await audioChat(c.var.ctx, request);
      return new Response(speech.body, {
        status: 200,
        headers: {
          "content-type": speech.contentType,
          "x-credits-charged": String(credits),
          "x-transcript": headerText(transcript),
          "x-sql": headerText(sql),
          "x-answer-text": headerText(answer_text),
        },
      }) as never;
    }
    return c.json(await audioChatJson(c.var.ctx, request, publicBase(c)), 200);
  })
  .openapi(memberAudioRoute, async (c) => (await audioForMember(c.var.ctx, c.req.valid("param").id)) as never)
  .openapi(linkAudioRoute, async (c) => (await audioForLink(c.var.ctx, c.req.valid("param").id, c.req.valid("query").token)) as never);
