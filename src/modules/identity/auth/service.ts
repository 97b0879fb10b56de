import { eq, sql } from "drizzle-orm";
import { type Transaction, withTransaction } from "../../../db/client";
import { memberships, organizations, users } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { Conflict, Unauthorized, Unprocessable } from "../../../lib/errors";
import { newId } from "../../../lib/ids";
import { hashPassword, needsRehash, verifyPassword } from "../../../lib/password";
import { recordAudit } from "../audit/service";
import { revokeSession, rotateRefreshToken, startSession, type TokenPair } from "./sessions";
import { sendWelcome } from "./welcome";

export interface PublicUser {
  id: string;
  email: string;
  name: string;
}

export interface AuthResult extends TokenPair {
  user: PublicUser;
}

const COMMON_PASSWORDS = new Set(["password123", "1234567890", "qwertyuiop", "letmein123", "iloveyou12", "password1234", "administrator"]);

/** Why a password is too weak, or null when it is acceptable. */
export function passwordWeakness(password: string, email: string): string | null {
  if (password.length < 10) return "Use at least 10 characters";
  if (password.length > 128) return "Use at most 128 characters";
  if (COMMON_PASSWORDS.has(password.toLowerCase())) return "This password is too common";
  if (password.toLowerCase().includes(email.split("@")[0]?.toLowerCase() ?? "\u0000")) return "Do not use your email address in the password";
  if (password.length < 16 && !(/[a-zA-Z]/.test(password) && /[^a-zA-Z]/.test(password)))
    return "Mix letters with digits or symbols, or use at least 16 characters";
  return null;
}

/** Creates a user, their own organisation (they own it), and a first session. */
export async function signUp(ctx: ServiceCtx, input: { email: string; password: string; name: string }): Promise<AuthResult> {
  const weakness = passwordWeakness(input.password, input.email);
  if (weakness) throw new Unprocessable([{ path: "password", message: weakness }], "The password is too weak");
  const passwordHash = await hashPassword(input.password);
  const { user, orgId } = await withTransaction(ctx, async (tx) => {
    const created = await createUserWithOwnOrganisation(tx, { email: input.email, name: input.name, passwordHash });
    if (!created) throw new Conflict("An account with this email already exists");
    return created;
  });
  await recordAudit(ctx, { orgId, action: "user.signed_up", actorUserId: user.id, targetType: "user", targetId: user.id });
  // After the commit, so a sign-up that lost the email race is never welcomed.
  await sendWelcome(ctx, { userId: user.id, email: user.email, name: user.name });
  return { user, ...(await startSession(ctx, user.id)) };
}

/**
 * Inserts a user and their own organisation, with them as owner, inside `tx`. Returns null when
 * the email is taken, so the caller chooses between a 409 and linking to that account.
 * `passwordHash` is null for users who sign in only through a provider such as Google.
 */
export async function createUserWithOwnOrganisation(
  tx: Transaction,
  input: { email: string; name: string; passwordHash: string | null; emailVerifiedAt?: Date | null },
): Promise<{ user: PublicUser; orgId: string } | null> {
  const user = { id: newId("usr"), email: input.email.trim(), name: input.name.trim() };
  const orgId = newId("org");
  // The unique index on lower(email) decides a race between two sign-ups with one address.
  const inserted = await tx
    .insert(users)
    .values({ ...user, passwordHash: input.passwordHash, emailVerifiedAt: input.emailVerifiedAt ?? null })
    .onConflictDoNothing()
    .returning({ id: users.id });
  if (inserted.length === 0) return null;
  await tx.insert(organizations).values({ id: orgId, name: `${user.name}'s organisation` });
  await tx.insert(memberships).values({ orgId, userId: user.id, role: "owner" });
  return { user, orgId };
}

// Verified against when the email is unknown, so both failures cost one PBKDF2 run.
let decoyHash: Promise<string> | undefined;

/** Signs in with email and password. Wrong password and unknown email fail alike. */
export async function signIn(ctx: ServiceCtx, input: { email: string; password: string }): Promise<AuthResult> {
  const [user] = await ctx.db
    .select({ id: users.id, email: users.email, name: users.name, passwordHash: users.passwordHash })
    .from(users)
    .where(eq(sql`lower(${users.email})`, input.email.trim().toLowerCase()));
  decoyHash ??= hashPassword("decoy password that never matches");
  const valid = await verifyPassword(input.password, user?.passwordHash ?? (await decoyHash));
  if (!user?.passwordHash || !valid) {
    await recordAudit(ctx, { orgId: null, action: "user.sign_in_failed", actorUserId: user?.id ?? null, metadata: { reason: "bad_credentials" } });
    throw new Unauthorized("Email or password is incorrect");
  }
  if (needsRehash(user.passwordHash)) {
    await ctx.db
      .update(users)
      .set({ passwordHash: await hashPassword(input.password), updatedAt: ctx.now() })
      .where(eq(users.id, user.id));
  }
  await recordAudit(ctx, { orgId: null, action: "user.signed_in", actorUserId: user.id, targetType: "user", targetId: user.id });
  return { user: { id: user.id, email: user.email, name: user.name }, ...(await startSession(ctx, user.id)) };
}

export function refresh(ctx: ServiceCtx, refreshToken: string): Promise<TokenPair> {
  return rotateRefreshToken(ctx, refreshToken);
}

/** Ends the caller's session: its access tokens and refresh family are refused from now on. */
export async function logout(ctx: ServiceCtx): Promise<void> {
  const actor = ctx.actor;
  if (!actor?.sessionId) throw new Unauthorized("Only a user session can log out");
  await revokeSession(ctx, actor.sessionId, "logout");
  await recordAudit(ctx, { orgId: actor.orgId, action: "user.logged_out", targetType: "session", targetId: actor.sessionId });
}

export interface Me {
  user: PublicUser & { is_super_admin: boolean };
  orgs: { id: string; name: string; role: string }[];
}

export async function me(ctx: ServiceCtx): Promise<Me> {
  const userId = ctx.actor?.userId;
  if (!userId) throw new Unauthorized("This endpoint needs a user token, not an API key");
  const [user] = await ctx.db
    .select({ id: users.id, email: users.email, name: users.name, isSuperAdmin: users.isSuperAdmin })
    .from(users)
    .where(eq(users.id, userId));
  if (!user) throw new Unauthorized();
  const orgs = await ctx.db
    .select({ id: organizations.id, name: organizations.name, role: memberships.role })
    .from(memberships)
    .innerJoin(organizations, eq(organizations.id, memberships.orgId))
    .where(eq(memberships.userId, userId))
    .orderBy(organizations.id);
  return { user: { id: user.id, email: user.email, name: user.name, is_super_admin: user.isSuperAdmin }, orgs };
}
