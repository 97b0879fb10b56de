import type { ServiceCtx } from "../../../lib/context";
import { newId } from "../../../lib/ids";
import { assertCan, requireOrgId } from "../../identity/auth/principal";
import { getConversationRow } from "../conversations/service";
import { ensureChatCredits } from "../settings/service";
import type { ChatTurnInput } from "./schemas";
import type { SalesTurnInput } from "./service";

/**
 * A web chat request as a turn: the conversation (404 unless it is the organisation's) and the
 * contact (the conversation's, or a new visitor id). Checked before a stream starts, so these
 * refusals, and a 402 for an empty balance, are ordinary problem responses rather than SSE errors.
 */
export async function webTurn(ctx: ServiceCtx, body: ChatTurnInput): Promise<Omit<SalesTurnInput, "signal" | "onDelta" | "onThinking">> {
  assertCan(ctx, "chatbot:write");
  const orgId = requireOrgId(ctx);
  const base = { orgId, channel: "web" as const, message: body.message };
  if (!body.conversation_id) {
    await ensureChatCredits(ctx, orgId);
    return { ...base, contactId: body.contact_id ?? newId("vis"), ...(body.history ? { history: body.history } : {}) };
  }
  const row = await getConversationRow(ctx, orgId, body.conversation_id);
  if (row.mode === "bot") await ensureChatCredits(ctx, orgId);
  return { ...base, conversationId: row.id, contactId: body.contact_id ?? row.contactId };
}
