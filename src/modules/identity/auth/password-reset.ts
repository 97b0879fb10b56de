import { and, eq, gt, isNull, sql } from "drizzle-orm";
import { withTransaction } from "../../../db/client";
import { passwordResetTokens, users } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { randomToken, sha256Hex } from "../../../lib/crypto";
import { AppError, Unprocessable } from "../../../lib/errors";
import { newId } from "../../../lib/ids";
import { hashPassword } from "../../../lib/password";
import { sendMessage } from "../../messaging/outbound/service";
import { recordAudit } from "../audit/service";
import { passwordWeakness } from "./service";
import { revokeAllSessions } from "./sessions";

export const RESET_TTL_MINUTES = 30;
/** Reset emails per account per window; further requests answer the same 202 and send nothing. */
export const RESET_MAX_PER_WINDOW = 3;

/** A reset link that cannot be used: unknown, expired or already used. The detail says which. */
export class InvalidResetToken extends AppError {
  constructor(detail: string) {
    super(400, "https://billx.dev/problems/invalid-reset-token", "Invalid password reset link", detail);
  }
}

/**
 * Emails a single-use reset link to an existing account. Unknown emails and throttled accounts
 * get nothing, and the caller answers 202 either way, so the reply never reveals an account.
 */
export async function requestPasswordReset(ctx: ServiceCtx, input: { email: string }): Promise<void> {
  const [user] = await ctx.db
    .select({ id: users.id, email: users.email })
    .from(users)
    .where(eq(sql`lower(${users.email})`, input.email.trim().toLowerCase()));
  if (!user) return;

  const sent = await withTransaction(ctx, async (tx) => {
    // Serialises requests for one account, so racing requests cannot both pass the count below.
    await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`password_reset:${user.id}`}, 0))`);
    const now = ctx.now();
    const windowStart = new Date(now.getTime() - RESET_TTL_MINUTES * 60_000);
    const [recent] = await tx
      .select({ count: sql<number>`count(*)::int` })
      .from(passwordResetTokens)
      .where(and(eq(passwordResetTokens.userId, user.id), gt(passwordResetTokens.createdAt, windowStart)));
    if ((recent?.count ?? 0) >= RESET_MAX_PER_WINDOW) return false;

    const id = newId("prt");
    const token = randomToken(32);
    await tx.insert(passwordResetTokens).values({
      id,
      userId: user.id,
      tokenHash: await sha256Hex(token),
      expiresAt: new Date(now.getTime() + RESET_TTL_MINUTES * 60_000),
      createdAt: now,
    });
    const link = `${ctx.config.appUrl.replace(/\/+$/, "")}/reset-password?token=${encodeURIComponent(token)}`;
    // In the same transaction: a token whose email could not be queued does not exist either.
    await sendMessage(
      { ...ctx, db: tx },
      {
        orgId: null,
        channel: "email",
        recipient: user.email,
        subject: "Reset your Billx password",
        body: `Someone asked to reset the password of your Billx account. To choose a new one, open this link within ${RESET_TTL_MINUTES} minutes:\n\n${link}\n\nThe link works once. If you did not ask for it, ignore this email: your password stays as it is.`,
        idempotencyKey: `password_reset:${id}`,
        entity: { type: "password_reset", id },
      },
    );
    return true;
  });
  // Never the token: only that none was issued.
  if (!sent) ctx.log.info("password reset throttled", { user_id: user.id });
}

/**
 * Sets a new password with a reset token. The token works once, even under a race; every
 * session of the user ends, so whoever knew the old password is signed out everywhere.
 */
export async function confirmPasswordReset(ctx: ServiceCtx, input: { token: string; password: string }): Promise<void> {
  const tokenHash = await sha256Hex(input.token);
  const [found] = await ctx.db
    .select({
      id: passwordResetTokens.id,
      userId: passwordResetTokens.userId,
      expiresAt: passwordResetTokens.expiresAt,
      usedAt: passwordResetTokens.usedAt,
      email: users.email,
    })
    .from(passwordResetTokens)
    .innerJoin(users, eq(users.id, passwordResetTokens.userId))
    .where(eq(passwordResetTokens.tokenHash, tokenHash));
  if (!found) throw new InvalidResetToken("This password reset link is not valid; ask for a new one");
  if (found.usedAt) throw new InvalidResetToken("This password reset link has already been used; ask for a new one");
  if (found.expiresAt <= ctx.now()) throw new InvalidResetToken("This password reset link has expired; ask for a new one");

  // Checked before the token is spent, so a refused password can be retried with the same link.
  const weakness = passwordWeakness(input.password, found.email);
  if (weakness) throw new Unprocessable([{ path: "password", message: weakness }], "The password is too weak");
  // PBKDF2 is slow: hashed before the transaction so the row locks are held briefly.
  const passwordHash = await hashPassword(input.password);

  await withTransaction(ctx, async (tx) => {
    const now = ctx.now();
    // The claim: of two racing confirms with one token, only the first UPDATE finds used_at null;
    // the other waits on the row lock, re-reads it and matches nothing.
    const [claimed] = await tx
      .update(passwordResetTokens)
      .set({ usedAt: now })
      .where(and(eq(passwordResetTokens.id, found.id), isNull(passwordResetTokens.usedAt), gt(passwordResetTokens.expiresAt, now)))
      .returning({ id: passwordResetTokens.id });
    if (!claimed) throw new InvalidResetToken("This password reset link has already been used or has expired; ask for a new one");

    await tx
      .update(users)
      // Opening a link sent to the mailbox proves the address is theirs.
      .set({ passwordHash, emailVerifiedAt: sql`coalesce(${users.emailVerifiedAt}, ${now.toISOString()}::timestamptz)`, updatedAt: now })
      .where(eq(users.id, found.userId));
    // Older links in the same inbox would otherwise still change the password just chosen.
    await tx
      .update(passwordResetTokens)
      .set({ usedAt: now })
      .where(and(eq(passwordResetTokens.userId, found.userId), isNull(passwordResetTokens.usedAt)));
    const txCtx = { ...ctx, db: tx };
    await revokeAllSessions(txCtx, found.userId, "password_reset");
    await recordAudit(txCtx, { orgId: null, action: "user.password_reset", actorUserId: found.userId, targetType: "user", targetId: found.userId });
  });
}
