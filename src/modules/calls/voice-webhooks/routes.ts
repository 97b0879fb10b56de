import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../../../lib/context";
import { AppError, Forbidden, ServiceUnavailable, Unauthorized } from "../../../lib/errors";
import { createRouter, problemResponses } from "../../../lib/openapi";
import { verifyTwilioSignature } from "../../../lib/signatures";
import { signedTwilioForm } from "../../../lib/twilio-webhook";
import { callForStream } from "../records/service";
import { signedUrl, VOICE_PATHS } from "./public-url";
import { answerIncomingCall, applyCallStatus } from "./service";

const tags = ["Phone calls"];

const incomingCallRoute = createRoute({
  tags,
  method: "post",
  path: VOICE_PATHS.incoming,
  summary: "Twilio incoming-call webhook (signed with X-Twilio-Signature); answers TwiML",
  description:
    "Form-encoded `CallSid`, `From`, `To`, `CallStatus` as Twilio posts them; the signature covers the public URL (`PUBLIC_BASE_URL` + path, else the request's URL) and every parameter (403 otherwise). Unknown `To`: a `<Say>` and `<Hangup/>`. Not enough credits for a two-minute call: a polite `<Say>` and `<Hangup/>`, no stream. Otherwise `<Connect><Stream>` to the call's one-time stream URL.",
  responses: { 200: { description: "TwiML", content: { "text/xml": { schema: z.string() } } }, ...problemResponses },
});

const callStatusRoute = createRoute({
  tags,
  method: "post",
  path: VOICE_PATHS.status,
  summary: "Twilio call status callback (signed with X-Twilio-Signature)",
  description:
    "`CallStatus` (completed, busy, no-answer, failed, canceled, …) and `CallDuration` reconcile the call record; a call whose stream never opened is finalised here (its hold settled) exactly once.",
  responses: { 204: { description: "Applied (or nothing to change)" }, ...problemResponses },
});

const streamParams = z.object({
  call_sid: z
    .string()
    .max(64)
    .openapi({ param: { name: "call_sid", in: "path" }, description: "Twilio's CallSid", example: "CA0123456789abcdef0123456789abcdef" }),
  token: z
    .string()
    .max(200)
    .openapi({ param: { name: "token", in: "path" }, description: "The call's one-time stream token from the TwiML", example: "3f9c…" }),
});

const mediaStreamRoute = createRoute({
  tags,
  method: "get",
  path: `${VOICE_PATHS.stream}/{call_sid}/{token}`,
  summary: "Twilio Media Streams WebSocket of one call (Upgrade: websocket)",
  description:
    "The token is the last path segment (Twilio's Stream URL takes no query string) and works once, within two minutes of the TwiML; a wrong, used or expired one is a 403, an unknown call a 404, before any bridge work. The socket is handed to the call's CallSession Durable Object.",
  request: { params: streamParams },
  responses: { 101: { description: "Switching protocols to the media stream" }, 426: { description: "Not a WebSocket upgrade" }, ...problemResponses },
});

/** The form Twilio posted to this Worker, its signature checked against the URL Twilio called. */
function signedCallForm(c: Context<AppEnv>): Promise<Record<string, string>> {
  return signedTwilioForm(c, signedUrl(c.var.ctx, c.req.url));
}

export const voiceWebhookRoutes = createRouter()
  .openapi(incomingCallRoute, async (c) => {
    const params = await signedCallForm(c);
    const twiml = await answerIncomingCall(c.var.ctx, params, c.req.url);
    return c.body(twiml, 200, { "Content-Type": "text/xml; charset=utf-8" });
  })
  .openapi(callStatusRoute, async (c) => {
    await applyCallStatus(c.var.ctx, await signedCallForm(c));
    return c.body(null, 204);
  })
  .openapi(mediaStreamRoute, async (c) => {
    const ctx = c.var.ctx;
    if (c.req.header("Upgrade")?.toLowerCase() !== "websocket") {
      throw new AppError(426, "https://billx.dev/problems/upgrade-required", "Upgrade required", "Open this URL as a WebSocket", undefined, {
        Upgrade: "websocket",
      });
    }
    // Twilio signs the upgrade too, over the wss:// URL it opened; where it sent a signature, a forged one is refused.
    const signature = c.req.header("X-Twilio-Signature");
    const authToken = ctx.config.twilio.authToken;
    if (signature !== undefined && authToken) {
      const httpUrl = signedUrl(ctx, c.req.url);
      const candidates = [httpUrl.replace(/^http/, "ws"), httpUrl];
      const valid = await Promise.all(candidates.map((url) => verifyTwilioSignature(authToken, url, {}, signature)));
      if (!valid.includes(true)) throw new Forbidden("Invalid X-Twilio-Signature");
    }
    const { call_sid, token } = c.req.valid("param");
    const call = await callForStream(ctx, call_sid, token);
    const sessions = c.env.CALL_SESSION;
    if (!sessions) throw new ServiceUnavailable("The call bridge (CALL_SESSION) is not available");
    const session = sessions.get(sessions.idFromName(call.callSid));
    return session.fetch(
      new Request("https://call-session/connect", {
        headers: { Upgrade: "websocket", "X-Billx-Call-Id": call.id, "X-Billx-Org-Id": call.orgId, "X-Billx-Assistant-Id": call.assistantId },
      }),
    );
  })
  // Twilio always sends the token; a URL without one is refused before anything else.
  .get(`${VOICE_PATHS.stream}/:call_sid`, () => {
    throw new Unauthorized("The stream URL carries no token");
  });
