import { and, eq, gt, isNull } from "drizzle-orm";
import { refreshTokens, sessions } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { randomToken, sha256Hex } from "../../../lib/crypto";
import { Unauthorized } from "../../../lib/errors";
import { newId } from "../../../lib/ids";
import { bootstrapFirstSuperuser } from "./first-superuser";
import { ACCESS_TOKEN_TTL_SECONDS, REFRESH_TOKEN_TTL_SECONDS, signAccessToken } from "./tokens";

export interface TokenPair {
  access_token: string;
  refresh_token: string;
  token_type: "Bearer";
  expires_in: number;
}

async function issueRefreshToken(ctx: ServiceCtx, sessionId: string): Promise<string> {
  const token = `rt_${randomToken(32)}`;
  await ctx.db.insert(refreshTokens).values({
    id: newId("rt"),
    sessionId,
    tokenHash: await sha256Hex(token),
    expiresAt: new Date(ctx.now().getTime() + REFRESH_TOKEN_TTL_SECONDS * 1000),
  });
  return token;
}

async function tokenPair(ctx: ServiceCtx, userId: string, sessionId: string, refreshToken: string): Promise<TokenPair> {
  return {
    access_token: await signAccessToken(ctx.config, { sub: userId, sid: sessionId }, ctx.now()),
    refresh_token: refreshToken,
    token_type: "Bearer",
    expires_in: ACCESS_TOKEN_TTL_SECONDS,
  };
}

/** Starts a session (a refresh-token family) for a user who just proved who they are. */
export async function startSession(ctx: ServiceCtx, userId: string): Promise<TokenPair> {
  // Every way of signing in ends here, so the first super-admin is made on whichever the operator uses.
  await bootstrapFirstSuperuser(ctx, userId);
  const sessionId = newId("sess");
  await ctx.db.insert(sessions).values({ id: sessionId, userId, ip: ctx.request.ip, userAgent: ctx.request.userAgent?.slice(0, 500) ?? null });
  return tokenPair(ctx, userId, sessionId, await issueRefreshToken(ctx, sessionId));
}

/**
 * Trades a refresh token for a new pair. Each token works once: the UPDATE that marks it used
 * is the race winner's; any later use of the same token finds it used and revokes the whole
 * family, including the pair the winner just received.
 */
export async function rotateRefreshToken(ctx: ServiceCtx, presented: string): Promise<TokenPair> {
  const hash = await sha256Hex(presented);
  const now = ctx.now();
  // Claim and liveness in one statement: the token is unused and unexpired, its session alive.
  const [claimed] = await ctx.db
    .update(refreshTokens)
    .set({ usedAt: now })
    .from(sessions)
    .where(
      and(
        eq(refreshTokens.tokenHash, hash),
        isNull(refreshTokens.usedAt),
        gt(refreshTokens.expiresAt, now),
        eq(sessions.id, refreshTokens.sessionId),
        isNull(sessions.revokedAt),
      ),
    )
    .returning({ sessionId: refreshTokens.sessionId, userId: sessions.userId });
  if (claimed) return tokenPair(ctx, claimed.userId, claimed.sessionId, await issueRefreshToken(ctx, claimed.sessionId));

  const [known] = await ctx.db
    .select({ sessionId: refreshTokens.sessionId, usedAt: refreshTokens.usedAt })
    .from(refreshTokens)
    .where(eq(refreshTokens.tokenHash, hash));
  if (known?.usedAt) {
    // A used token came back: either a thief replays it or the owner does after the thief.
    // We cannot tell which, so the whole family ends and the owner signs in again.
    await revokeSession(ctx, known.sessionId, "refresh_token_reused");
    ctx.log.warn("refresh token reused: session revoked", { session_id: known.sessionId });
  }
  throw new Unauthorized("The refresh token is invalid, expired or already used");
}

/** Revokes one session: its refresh tokens stop working and its access tokens are refused. */
export async function revokeSession(ctx: ServiceCtx, sessionId: string, reason: string): Promise<void> {
  await ctx.db
    .update(sessions)
    .set({ revokedAt: ctx.now(), revokedReason: reason })
    .where(and(eq(sessions.id, sessionId), isNull(sessions.revokedAt)));
}

/** Revokes every session of a user (password reset, account compromise). */
export async function revokeAllSessions(ctx: ServiceCtx, userId: string, reason: string): Promise<void> {
  await ctx.db
    .update(sessions)
    .set({ revokedAt: ctx.now(), revokedReason: reason })
    .where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt)));
}
