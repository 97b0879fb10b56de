import type { CallStatus } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { getAssistantInOrg } from "../../assistants/assistants/service";
import { systemActor } from "../../identity/auth/principal";
import { findAttachedNumber } from "../numbers/service";
import { openCall, reconcileCallStatus, reissueStreamToken } from "../records/service";
import { publicBaseUrl, VOICE_PATHS } from "./public-url";
import { connectStream, sayAndHangUp } from "./twiml";

export const NOT_IN_SERVICE = "Sorry, the number you have called is not in service. Goodbye.";
export const NO_CREDITS = "Sorry, we cannot take your call right now. Please try again later. Goodbye.";

/** Twilio's CallStatus values as our call statuses. */
const TWILIO_CALL_STATUS: Record<string, CallStatus> = {
  queued: "queued",
  initiated: "queued",
  ringing: "ringing",
  "in-progress": "in_progress",
  completed: "completed",
  busy: "busy",
  "no-answer": "no_answer",
  failed: "failed",
  // Hung up (or cancelled by us) before anyone answered.
  canceled: "no_answer",
};

/** The WebSocket base Twilio opens media streams to: the public base URL as ws(s)://, else the request's own origin. */
function streamBase(ctx: ServiceCtx, requestUrl: string): string {
  const base = publicBaseUrl(ctx) ?? new URL(requestUrl).origin;
  return base.replace(/^http/, "ws");
}

/**
 * What Twilio should do with an incoming call, as TwiML: an unknown number (or an archived
 * assistant) is told so; an organisation that cannot pay for a minimum call gets a polite goodbye
 * and no stream; otherwise a call row, its credit hold and a media stream with a one-time token.
 */
export async function answerIncomingCall(ctx: ServiceCtx, params: Record<string, string>, requestUrl: string): Promise<string> {
  if (params.Direction?.startsWith("outbound")) return answerOutboundCall(ctx, params, requestUrl);
  const to = params.To ?? "";
  const number = to ? await findAttachedNumber(ctx, to) : undefined;
  if (!number || !params.CallSid) return sayAndHangUp(NOT_IN_SERVICE);
  const orgCtx = { ...ctx, actor: systemActor(number.orgId, []) };
  const assistant = await getAssistantInOrg(orgCtx, number.assistantId);
  if (assistant.status !== "active") return sayAndHangUp(NOT_IN_SERVICE);

  const opened = await openCall(orgCtx, {
    orgId: number.orgId,
    assistantId: assistant.id,
    callSid: params.CallSid,
    from: params.From ?? "",
    to,
    direction: "inbound",
    status: params.CallStatus === "in-progress" ? "in_progress" : "ringing",
  });
  if (!opened.ok) {
    // A webhook retried after its call ended gets the goodbye too, never a second stream.
    ctx.log.info("call refused", { reason: opened.reason, org_id: number.orgId, assistant_id: assistant.id });
    return sayAndHangUp(NO_CREDITS);
  }
  return connectStream(streamUrl(ctx, requestUrl, params.CallSid, opened.token), { assistant_id: assistant.id, call_id: opened.call.id });
}

function streamUrl(ctx: ServiceCtx, requestUrl: string, callSid: string, token: string): string {
  return `${streamBase(ctx, requestUrl)}${VOICE_PATHS.stream}/${encodeURIComponent(callSid)}/${token}`;
}

/** The callee of a call we placed (`POST /v1/calls`) answered: connect it to its stream with a fresh token. */
async function answerOutboundCall(ctx: ServiceCtx, params: Record<string, string>, requestUrl: string): Promise<string> {
  const reissued = params.CallSid ? await reissueStreamToken(ctx, params.CallSid) : undefined;
  if (!reissued) return sayAndHangUp(NOT_IN_SERVICE);
  const { call, token } = reissued;
  return connectStream(streamUrl(ctx, requestUrl, call.callSid, token), { assistant_id: call.assistantId, call_id: call.id });
}

/** Applies Twilio's call status callback (`CallStatus`, `CallDuration`); unknown calls and statuses change nothing. */
export async function applyCallStatus(ctx: ServiceCtx, params: Record<string, string>): Promise<void> {
  const status = TWILIO_CALL_STATUS[params.CallStatus ?? ""];
  if (!status || !params.CallSid) return;
  const duration = Number(params.CallDuration);
  await reconcileCallStatus(ctx, params.CallSid, {
    status,
    durationS: params.CallDuration !== undefined && Number.isInteger(duration) && duration >= 0 ? duration : undefined,
    at: ctx.now(),
  });
}
