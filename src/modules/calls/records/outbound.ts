import { calls } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { Unprocessable } from "../../../lib/errors";
import { newId } from "../../../lib/ids";
import { twilioVoice } from "../../../providers/twilio-voice";
import { getAssistantInOrg } from "../../assistants/assistants/service";
import { providerProblem } from "../../content/ai/metered-chat";
import { assertCan, requireOrgId } from "../../identity/auth/principal";
import { releaseReservation } from "../../money/credits/reservations";
import { numbersByAssistant } from "../numbers/queries";
import { requirePublicBaseUrl, VOICE_PATHS } from "../voice-webhooks/public-url";
import type { Call, PlaceCallInput } from "./schemas";
import { getCall, holdMinimumCall, newStreamToken } from "./service";

/**
 * Has the assistant call `to` from its first number through Twilio's Calls API. The credits for
 * a minimum call are held first (402, and Twilio is never asked, when they are short). When the
 * callee answers, Twilio fetches the call's TwiML from the incoming-call webhook, which connects
 * it to the same media stream an inbound call gets.
 */
export async function placeOutboundCall(ctx: ServiceCtx, input: PlaceCallInput): Promise<Call> {
  assertCan(ctx, "calls:write");
  const orgId = requireOrgId(ctx);
  const assistant = await getAssistantInOrg(ctx, input.assistant_id);
  if (assistant.status !== "active") throw new Unprocessable([{ path: "assistant_id", message: `Assistant ${assistant.id} is archived` }]);
  const from = (await numbersByAssistant(ctx.db, orgId, [assistant.id])).get(assistant.id)?.[0];
  if (!from) throw new Unprocessable([{ path: "assistant_id", message: "The assistant has no phone number to call from; attach one first" }]);
  const base = requirePublicBaseUrl(ctx);

  const reservation = await holdMinimumCall(ctx, orgId);
  let callSid: string;
  try {
    const placed = await twilioVoice(ctx.config).createCall({
      to: input.to,
      from,
      url: `${base}${VOICE_PATHS.incoming}`,
      statusCallback: `${base}${VOICE_PATHS.status}`,
    });
    callSid = placed.sid;
  } catch (error) {
    await releaseReservation(ctx, reservation.id);
    throw providerProblem(error);
  }
  // A token nobody holds: it marks the stream as not opened yet, so a call that is never answered
  // is finalised by the status callback. The answer webhook replaces it with a real one.
  const placeholder = await newStreamToken(ctx);
  const now = ctx.now();
  const id = newId("call");
  await ctx.db.insert(calls).values({
    id,
    orgId,
    assistantId: assistant.id,
    callSid,
    fromNumber: from,
    toNumber: input.to,
    direction: "outbound",
    status: "queued",
    startedAt: now,
    streamTokenHash: placeholder.tokenHash,
    streamTokenExpiresAt: new Date(now.getTime() + ctx.config.calls.maxSeconds * 1000),
    reservationId: reservation.id,
    createdAt: now,
    updatedAt: now,
  });
  return getCall(ctx, id);
}
