import { and, desc, eq, gt, isNull, lt, sql } from "drizzle-orm";
import { withTransaction } from "../../../db/client";
import { otpCodes, users } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { randomDigits, sha256Hex } from "../../../lib/crypto";
import { Unauthorized } from "../../../lib/errors";
import { newId } from "../../../lib/ids";
import { sendMessage } from "../../messaging/outbound/service";
import { recordAudit } from "../audit/service";
import type { AuthResult } from "./service";
import { startSession } from "./sessions";

export const OTP_DIGITS = 6;
export const OTP_TTL_MINUTES = 10;
/** Tries per code, right or wrong; after that the code is dead even for the right digits. */
export const OTP_MAX_ATTEMPTS = 5;
/** Codes issued per recipient per window; further requests answer the same 202 and send nothing. */
export const OTP_MAX_PER_WINDOW = 3;
export const OTP_WINDOW_MINUTES = 10;

/** Exactly one of the two; the route schema enforces that. */
export interface OtpRecipientInput {
  email?: string;
  phone?: string;
}

interface OtpTarget {
  channel: "email" | "sms";
  /** Lower-cased email or E.164 phone: the key codes are stored and looked up under. */
  recipient: string;
}

function otpTarget(input: OtpRecipientInput): OtpTarget {
  if (input.email !== undefined) return { channel: "email", recipient: input.email.trim().toLowerCase() };
  if (input.phone !== undefined) return { channel: "sms", recipient: input.phone.trim() };
  // The schema refuses a body with neither; a service caller that forgets gets the same 401.
  throw wrongCode();
}

// One answer for a wrong, expired, used or exhausted code and for an unknown recipient, so the
// reply never tells whether an account exists.
function wrongCode(): Unauthorized {
  return new Unauthorized("The code is wrong, expired or already used");
}

// The code id is mixed in so two equal codes never share a hash and a precomputed table of the
// million possible codes matches nothing.
function hashCode(otpId: string, code: string): Promise<string> {
  return sha256Hex(`${otpId}:${code}`);
}

async function findUser(ctx: ServiceCtx, target: OtpTarget) {
  const [user] = await ctx.db
    .select({ id: users.id, email: users.email, name: users.name, phone: users.phone })
    .from(users)
    .where(target.channel === "email" ? eq(sql`lower(${users.email})`, target.recipient) : eq(users.phone, target.recipient));
  return user;
}

/**
 * Sends a sign-in code to an existing account's email or phone. Unknown recipients and throttled
 * recipients get nothing, and the caller answers 202 either way: the reply never reveals whether
 * an account exists or how many codes it was sent.
 */
export async function sendOtp(ctx: ServiceCtx, input: OtpRecipientInput): Promise<void> {
  const target = otpTarget(input);
  const user = await findUser(ctx, target);
  if (!user) return;
  const destination = target.channel === "email" ? user.email : target.recipient;

  const issued = await issueCode(ctx, { channel: target.channel, recipient: target.recipient, destination, userId: null }, (code) =>
    target.channel === "email"
      ? {
          subject: "Your Billx sign-in code",
          body: `Your Billx sign-in code is ${code}. It expires in ${OTP_TTL_MINUTES} minutes.\n\nIf you did not ask for it, ignore this email: nobody can sign in without the code.`,
        }
      : { body: `${code} is your Billx sign-in code. It expires in ${OTP_TTL_MINUTES} minutes.` },
  );
  // Never the code: only that one was or was not issued.
  if (!issued) ctx.log.info("otp throttled", { channel: target.channel, user_id: user.id });
}

/**
 * Trades a code for a session. Only the newest code of a recipient counts (a new code supersedes
 * the older ones). Every try, right or wrong, spends one of the code's five attempts.
 */
export async function verifyOtp(ctx: ServiceCtx, input: OtpRecipientInput & { code: string }): Promise<AuthResult> {
  const target = otpTarget(input);
  const claimed = await claimCode(ctx, { channel: target.channel, recipient: target.recipient, userId: null }, input.code);
  const user = await findUser(ctx, target);
  if (!claimed || !user) {
    if (user) {
      await recordAudit(ctx, { orgId: null, action: "user.sign_in_failed", actorUserId: user.id, metadata: { reason: "bad_otp", channel: target.channel } });
    }
    throw wrongCode();
  }

  const now = ctx.now();
  if (target.channel === "email") {
    // Typing the code proves the mailbox is theirs.
    await ctx.db
      .update(users)
      .set({ emailVerifiedAt: sql`coalesce(${users.emailVerifiedAt}, ${now.toISOString()}::timestamptz)`, updatedAt: now })
      .where(eq(users.id, user.id));
  }
  await recordAudit(ctx, {
    orgId: null,
    action: "user.signed_in",
    actorUserId: user.id,
    targetType: "user",
    targetId: user.id,
    metadata: { method: "otp", channel: target.channel },
  });
  return { user: { id: user.id, email: user.email, name: user.name }, ...(await startSession(ctx, user.id)) };
}

/** Who a code is for: a sign-in (`userId` null) or a signed-in user proving a new phone number is theirs. */
export interface CodeScope {
  channel: "email" | "sms";
  /** Lower-cased email or E.164 phone, as codes are stored and throttled under. */
  recipient: string;
  userId: string | null;
}

/** The message a code goes out in: the subject (email only) and body naming the code. */
type CodeMessage = (code: string) => { subject?: string; body: string };

/**
 * Stores a new code for `scope` (hashed) and queues its message to `destination`, in one
 * transaction; false, sending nothing, once the recipient had `OTP_MAX_PER_WINDOW` codes in the
 * window, whatever they were for, so nobody can flood a phone or mailbox with codes.
 */
export async function issueCode(ctx: ServiceCtx, scope: CodeScope & { destination: string }, message: CodeMessage): Promise<boolean> {
  return withTransaction(ctx, async (tx) => {
    // Serialises sends to one recipient, so racing requests cannot both pass the count below.
    await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`otp:${scope.channel}:${scope.recipient}`}, 0))`);
    const now = ctx.now();
    const windowStart = new Date(now.getTime() - OTP_WINDOW_MINUTES * 60_000);
    const [recent] = await tx
      .select({ count: sql<number>`count(*)::int` })
      .from(otpCodes)
      .where(and(eq(otpCodes.channel, scope.channel), eq(otpCodes.recipient, scope.recipient), gt(otpCodes.createdAt, windowStart)));
    if ((recent?.count ?? 0) >= OTP_MAX_PER_WINDOW) return false;

    const id = newId("otp");
    const code = randomDigits(OTP_DIGITS);
    await tx.insert(otpCodes).values({
      id,
      channel: scope.channel,
      recipient: scope.recipient,
      userId: scope.userId,
      codeHash: await hashCode(id, code),
      expiresAt: new Date(now.getTime() + OTP_TTL_MINUTES * 60_000),
      createdAt: now,
    });
    const { subject, body } = message(code);
    // In the same transaction: a code whose message could not be queued is not counted either.
    await sendMessage(
      { ...ctx, db: tx },
      scope.channel === "email"
        ? {
            orgId: null,
            channel: "email",
            recipient: scope.destination,
            subject: subject ?? "Your Billx code",
            body,
            idempotencyKey: `otp:${id}`,
            entity: { type: "otp", id },
          }
        : { orgId: null, channel: "sms", recipient: scope.destination, body, idempotencyKey: `otp:${id}`, entity: { type: "otp", id } },
    );
    return true;
  });
}

/**
 * Spends one try of the newest code for `scope` on `code`; true when it was right (the code is
 * then used up). Only the newest code counts (a new code supersedes the older ones), and a code
 * issued for one purpose never answers for the other.
 */
export async function claimCode(ctx: ServiceCtx, scope: CodeScope, code: string): Promise<boolean> {
  const [latest] = await ctx.db
    .select({ id: otpCodes.id })
    .from(otpCodes)
    .where(
      and(
        eq(otpCodes.channel, scope.channel),
        eq(otpCodes.recipient, scope.recipient),
        scope.userId === null ? isNull(otpCodes.userId) : eq(otpCodes.userId, scope.userId),
      ),
    )
    .orderBy(desc(otpCodes.id))
    .limit(1);
  if (!latest) return false;

  const now = ctx.now();
  const presented = await hashCode(latest.id, code);
  // Counts the try and claims the code in one statement. Two racing verifies of the right code
  // queue on the row lock; the second re-reads consumed_at, no longer null, and matches nothing.
  // The same re-check stops a right guess that races five wrong ones past the attempt limit.
  // Comparing hashes in SQL leaks nothing useful through timing: the hash is salted with the id.
  const [tried] = await ctx.db
    .update(otpCodes)
    .set({
      attempts: sql`${otpCodes.attempts} + 1`,
      consumedAt: sql`case when ${otpCodes.codeHash} = ${presented} then ${now.toISOString()}::timestamptz else null end`,
    })
    .where(and(eq(otpCodes.id, latest.id), isNull(otpCodes.consumedAt), lt(otpCodes.attempts, OTP_MAX_ATTEMPTS), gt(otpCodes.expiresAt, now)))
    .returning({ consumedAt: otpCodes.consumedAt });
  return Boolean(tried?.consumedAt);
}
