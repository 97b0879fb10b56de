import type { ServiceCtx } from "../../../lib/context";
import { sendMessage } from "../../messaging/outbound/service";

/** Who is welcomed, and to which organisation when they joined one by invitation. */
export interface Newcomer {
  userId: string;
  email: string;
  name: string;
  joined?: { orgId: string; orgName: string };
}

/**
 * Queues the welcome email of a new account, or of a member who just joined an organisation.
 * Keyed per user (and organisation), so a repeated call queues nothing more. Never throws: an
 * account or a membership stands even if its welcome cannot be queued.
 */
export async function sendWelcome(ctx: ServiceCtx, who: Newcomer): Promise<void> {
  const { joined } = who;
  try {
    await sendMessage(ctx, {
      // A new account's welcome is the platform's own mail, like its sign-in codes.
      orgId: joined?.orgId ?? null,
      channel: "email",
      recipient: who.email,
      subject: joined ? `Welcome to ${joined.orgName} on Billx` : "Welcome to Billx",
      body: joined
        ? `Hello ${who.name},\n\nyou are now a member of ${joined.orgName} on Billx. Sign in at ${ctx.config.appUrl} to get started.`
        : `Hello ${who.name},\n\nyour Billx account is ready. Sign in at ${ctx.config.appUrl} to set up your organisation, products and agents.`,
      idempotencyKey: joined ? `welcome:${joined.orgId}:${who.userId}` : `welcome:${who.userId}`,
      entity: { type: "user", id: who.userId },
    });
  } catch (error) {
    ctx.log.warn("welcome email not sent", { user_id: who.userId, error });
  }
}
