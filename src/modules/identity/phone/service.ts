import { eq } from "drizzle-orm";
import { isUniqueViolation } from "../../../db/errors";
import { users } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { Conflict, Forbidden, NotFound, Unprocessable } from "../../../lib/errors";
import { recordAudit } from "../audit/service";
import { TooManyRequests } from "../auth/middleware";
import { claimCode, issueCode, OTP_TTL_MINUTES } from "../auth/otp";
import type { UserWithPhoneView } from "./schemas";

/** The signed-in user's id: a number is a person's, so an API key cannot set one. */
function signedInUser(ctx: ServiceCtx): string {
  const userId = ctx.actor?.userId;
  if (!userId) throw new Forbidden("Only a signed-in user can change their own phone number, not an API key");
  return userId;
}

const userWithPhone = { id: users.id, email: users.email, name: users.name, phone: users.phone };

/**
 * Texts a code to `phone` that proves it is the user's. The number is not saved until the code
 * comes back (`confirmPhoneChange`), so nobody can point someone else's number at their account.
 * A number already on another account still gets the code: only whoever holds that phone can
 * learn from the confirmation that it is taken.
 */
export async function startPhoneChange(ctx: ServiceCtx, phone: string): Promise<{ status: "sent"; phone: string; expires_in_minutes: number }> {
  const userId = signedInUser(ctx);
  const sent = await issueCode(ctx, { channel: "sms", recipient: phone, destination: phone, userId }, (code) => ({
    body: `${code} is your Billx code to add this number to your account. It expires in ${OTP_TTL_MINUTES} minutes. Did not ask? Ignore this text.`,
  }));
  // The sender is authenticated and asking for their own number: saying so is more help than harm.
  if (!sent) throw new TooManyRequests(OTP_TTL_MINUTES * 60);
  return { status: "sent", phone, expires_in_minutes: OTP_TTL_MINUTES };
}

/** Saves `phone` on the user once `code` is the newest one texted to it for them. */
export async function confirmPhoneChange(ctx: ServiceCtx, input: { phone: string; code: string }): Promise<UserWithPhoneView> {
  const userId = signedInUser(ctx);
  if (!(await claimCode(ctx, { channel: "sms", recipient: input.phone, userId }, input.code))) {
    throw new Unprocessable([{ path: "code", message: "The code is wrong, expired or already used; ask for a new one" }]);
  }
  const [user] = await ctx.db
    .update(users)
    .set({ phone: input.phone, updatedAt: ctx.now() })
    .where(eq(users.id, userId))
    .returning(userWithPhone)
    .catch((error: unknown) => {
      if (isUniqueViolation(error)) throw new Conflict("This number is already on another account");
      throw error;
    });
  if (!user) throw new NotFound("user", userId);
  // The audit says that the number changed, not what it is: a phone number is personal data.
  await recordAudit(ctx, { orgId: null, action: "user.phone_verified", targetType: "user", targetId: userId, metadata: {} });
  return user;
}

/** Takes the number off the user: SMS sign-in and SMS alerts stop reaching them. */
export async function removePhone(ctx: ServiceCtx): Promise<void> {
  const userId = signedInUser(ctx);
  await ctx.db.update(users).set({ phone: null, updatedAt: ctx.now() }).where(eq(users.id, userId));
  await recordAudit(ctx, { orgId: null, action: "user.phone_removed", targetType: "user", targetId: userId, metadata: {} });
}
