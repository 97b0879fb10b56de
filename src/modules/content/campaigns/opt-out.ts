/**
 * STOP and START from customers, on the platform's SMS and WhatsApp number: STOP (or UNSUBSCRIBE,
 * STOPALL, CANCEL, END, QUIT) sets `marketing_opt_out` on every customer with that phone, START
 * (or UNSTOP) clears it. A confirmation goes back only when something changed, so a repeated
 * STOP is confirmed once. Any other text is not ours to read here.
 */
import type { ServiceCtx } from "../../../lib/context";
import { sendMessage } from "../../messaging/outbound/service";
import { setMarketingOptOutByPhone } from "../../retail/customers/audience";

const STOP_WORDS = new Set(["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"]);
const START_WORDS = new Set(["START", "UNSTOP"]);

export const OPT_OUT_CONFIRMATION = "You will no longer receive marketing messages from shops using Billx. Reply START to receive them again.";
export const OPT_IN_CONFIRMATION = "You will receive marketing messages again. Reply STOP to opt out.";

/** Applies a STOP/START keyword in `text` from `phone` (E.164); answers what it did. */
export async function applyMarketingKeyword(
  ctx: ServiceCtx,
  input: { channel: "sms" | "whatsapp"; phone: string; text: string; inboundId: string },
): Promise<"opted_out" | "opted_in" | "unchanged" | "ignored"> {
  const word = input.text
    .trim()
    .toUpperCase()
    .replace(/[.!]+$/, "");
  const optOut = STOP_WORDS.has(word) ? true : START_WORDS.has(word) ? false : null;
  if (optOut === null) return "ignored";
  const changed = await setMarketingOptOutByPhone(ctx, input.phone, optOut);
  if (changed === 0) return "unchanged";
  await sendMessage(ctx, {
    orgId: null,
    channel: input.channel,
    recipient: input.phone,
    body: optOut ? OPT_OUT_CONFIRMATION : OPT_IN_CONFIRMATION,
    // The provider may deliver one inbound message twice: one confirmation per inbound message.
    idempotencyKey: `marketing-keyword:${input.channel}:${input.inboundId}`,
    entity: { type: "marketing_keyword", id: input.phone },
  });
  return optOut ? "opted_out" : "opted_in";
}
