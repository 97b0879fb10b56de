/** The bridge's records written through the calls records service, for one call, as the call's system actor. */
import type { ServiceCtx } from "../../../lib/context";
import { appendTurn, extendCallHold, finalizeCall, markAnswered } from "../records/service";
import type { CallRecords } from "./records";

export function serviceCallRecords(ctx: ServiceCtx, callId: string): CallRecords {
  return {
    markAnswered: (at) => markAnswered(ctx, callId, at),
    appendTurn: async (turn) => {
      await appendTurn(ctx, callId, turn);
    },
    extendHold: (credits) => extendCallHold(ctx, callId, credits),
    finalize: (outcome) => finalizeCall(ctx, callId, outcome),
  };
}
