/**
 * Call records: the row of each call, its transcript as it grows, and its money. A call's credit
 * hold is taken when Twilio hands us the call (before any audio flows), extended while it goes
 * on, and settled exactly once by `finalizeCall`, whoever calls it first: the bridge when a
 * socket closes, or Twilio's status callback when the stream never opened.
 */
import { and, asc, desc, eq, gte, isNotNull, isNull, lt, sql } from "drizzle-orm";
import { type Database, withTransaction } from "../../../db/client";
import { isUniqueViolation } from "../../../db/errors";
import { type CallStatus, type CallTurnRole, calls, callTurns } from "../../../db/schema";
import type { ServiceCtx } from "../../../lib/context";
import { sha256Hex, timingSafeEqual } from "../../../lib/crypto";
import { AppError, Forbidden, NotFound } from "../../../lib/errors";
import { newId } from "../../../lib/ids";
import { type Page, toPage } from "../../../lib/pagination";
import { getAssistantInOrg } from "../../assistants/assistants/service";
import { assertCan, requireOrgId, systemActor } from "../../identity/auth/principal";
import { debitedCte, queryRows } from "../../money/credits/ledger";
import { creditsFor, lookupPrice } from "../../money/credits/prices";
import { type Reservation, releaseReservation, reserveCredits, settleReservation, type UsageLine } from "../../money/credits/reservations";
import { recordOwnAgentEvent } from "../../usage/events/service";
import type { Call, CallListInput } from "./schemas";

export type CallRow = typeof calls.$inferSelect;

/** The credit feature calls are charged under (usage reports). */
export const CALL_FEATURE = "calls.realtime";
/** The shortest call an organisation must be able to pay for before a call is let through. */
export const MINIMUM_CALL_SECONDS = 120;
/** How long Twilio has to open the media stream with the token the TwiML carries. */
export const STREAM_TOKEN_TTL_SECONDS = 120;

const CALL_ID = /^call_[0-9A-Za-z]{1,64}$/;

/**
 * Credits for `seconds` of a call at the Realtime model's audio price. A model the price map
 * has no audio price for is priced like `gpt-4o-realtime`, so a call is never free.
 */
export function callCredits(ctx: ServiceCtx, seconds: number): number {
  const own = lookupPrice("openai", ctx.config.calls.realtimeModel).price;
  const price = own.perAudioSecond ? own : lookupPrice("openai", "gpt-4o-realtime").price;
  return creditsFor(price, { audioSeconds: seconds });
}

/** Only the organisation of the acting context, when it has one (the DO's system context does). */
function inActorOrg(ctx: ServiceCtx) {
  const orgId = ctx.actor?.orgId;
  return orgId ? eq(calls.orgId, orgId) : undefined;
}

async function getCallRow(ctx: ServiceCtx, callId: string): Promise<CallRow> {
  if (!CALL_ID.test(callId)) throw new NotFound("call", callId.slice(0, 100));
  const [row] = await ctx.db
    .select()
    .from(calls)
    .where(and(eq(calls.id, callId), inActorOrg(ctx)));
  if (!row) throw new NotFound("call", callId);
  return row;
}

export interface NewCall {
  orgId: string;
  assistantId: string;
  callSid: string;
  from: string;
  to: string;
  direction: "inbound" | "outbound";
  status: CallStatus;
}

/** Holds the credits of a minimum call (402 `PaymentRequired` when the organisation has fewer). */
export function holdMinimumCall(ctx: ServiceCtx, orgId: string): Promise<Reservation> {
  return reserveCredits(ctx, {
    orgId,
    amount: callCredits(ctx, MINIMUM_CALL_SECONDS),
    feature: CALL_FEATURE,
    // The hold must outlive the longest call, or the reclaim job would give it back mid-call.
    ttlSeconds: ctx.config.calls.maxSeconds + 600,
  });
}

/** A fresh Media Streams token: the token goes into the TwiML, only its hash into the row. */
export async function newStreamToken(ctx: ServiceCtx): Promise<{ token: string; tokenHash: string; expiresAt: Date }> {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const token = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return { token, tokenHash: await sha256Hex(token), expiresAt: new Date(ctx.now().getTime() + STREAM_TOKEN_TTL_SECONDS * 1000) };
}

export type OpenedCall = { ok: true; call: CallRow; token: string } | { ok: false; reason: "no_credits" | "ended" };

/**
 * Takes the call's first credit hold (a minimum call) and writes its row with a fresh stream
 * token, of which only the SHA-256 is stored. `{ok: false}` when the organisation cannot pay for
 * a minimum call: no row, no hold. Twilio retrying the webhook for the same CallSid gets a new
 * token for the open call (`ended` once it is over), and the second hold is given back.
 */
export async function openCall(ctx: ServiceCtx, input: NewCall): Promise<OpenedCall> {
  let reservationId: string;
  try {
    reservationId = (await holdMinimumCall(ctx, input.orgId)).id;
  } catch (error) {
    if (error instanceof AppError && error.status === 402) return { ok: false, reason: "no_credits" };
    throw error;
  }
  const { token, tokenHash, expiresAt } = await newStreamToken(ctx);
  const now = ctx.now();
  const [row] = await ctx.db
    .insert(calls)
    .values({
      id: newId("call"),
      orgId: input.orgId,
      assistantId: input.assistantId,
      callSid: input.callSid,
      fromNumber: input.from,
      toNumber: input.to,
      direction: input.direction,
      status: input.status,
      startedAt: now,
      streamTokenHash: tokenHash,
      streamTokenExpiresAt: expiresAt,
      reservationId,
      createdAt: now,
      updatedAt: now,
    })
    .onConflictDoNothing({ target: calls.callSid })
    .returning();
  if (row) return { ok: true, call: row, token };

  await releaseReservation(ctx, reservationId);
  const [retried] = await ctx.db
    .update(calls)
    .set({ streamTokenHash: tokenHash, streamTokenExpiresAt: expiresAt, updatedAt: now })
    .where(and(eq(calls.callSid, input.callSid), eq(calls.orgId, input.orgId), isNull(calls.endedAt)))
    .returning();
  if (!retried) return { ok: false, reason: "ended" };
  return { ok: true, call: retried, token };
}

/**
 * A new stream token for an outbound call Twilio has just connected (it fetches the call's TwiML
 * then); undefined when there is no such open call.
 */
export async function reissueStreamToken(ctx: ServiceCtx, callSid: string): Promise<{ call: CallRow; token: string } | undefined> {
  const { token, tokenHash, expiresAt } = await newStreamToken(ctx);
  const [row] = await ctx.db
    .update(calls)
    .set({ streamTokenHash: tokenHash, streamTokenExpiresAt: expiresAt, status: "in_progress", updatedAt: ctx.now() })
    .where(and(eq(calls.callSid, callSid.slice(0, 64)), eq(calls.direction, "outbound"), isNull(calls.endedAt), isNotNull(calls.streamTokenHash)))
    .returning();
  return row ? { call: row, token } : undefined;
}

/**
 * The call a Media Streams upgrade is for, if `token` is its stream token and has not expired.
 * The token works once: it is cleared in the same statement that accepts it, so a replayed
 * upgrade URL opens nothing. 404 for an unknown sid, 403 for a wrong, used or expired token.
 */
export async function callForStream(ctx: ServiceCtx, callSid: string, token: string): Promise<CallRow> {
  const [known] = await ctx.db
    .select({ id: calls.id, hash: calls.streamTokenHash })
    .from(calls)
    .where(eq(calls.callSid, callSid.slice(0, 64)));
  if (!known) throw new NotFound("call", callSid.slice(0, 64));
  const hash = await sha256Hex(token);
  if (!known.hash || !timingSafeEqual(known.hash, hash)) throw new Forbidden("The stream token is wrong or has been used");
  const [claimed] = await ctx.db
    .update(calls)
    .set({ streamTokenHash: null, streamTokenExpiresAt: null, updatedAt: ctx.now() })
    .where(and(eq(calls.id, known.id), eq(calls.streamTokenHash, hash), gte(calls.streamTokenExpiresAt, ctx.now()), isNull(calls.endedAt)))
    .returning();
  if (!claimed) throw new Forbidden("The stream token has expired or the call has ended");
  return claimed;
}

/** Appends one transcript turn; `seq` is the next number of the call (a lost race for it retries). Answers the seq. */
export async function appendTurn(ctx: ServiceCtx, callId: string, turn: { role: CallTurnRole; text: string; at: Date }): Promise<number> {
  const call = await getCallRow(ctx, callId);
  for (let attempt = 1; ; attempt++) {
    try {
      const [row] = await queryRows<{ seq: number }>(
        ctx.db,
        sql`INSERT INTO call_turns (id, call_id, org_id, seq, role, text, at)
            SELECT ${newId("ctn")}, ${call.id}, ${call.orgId}, COALESCE(MAX(seq), 0) + 1, ${turn.role}, ${turn.text}, ${turn.at.toISOString()}::timestamptz
            FROM call_turns WHERE call_id = ${call.id}
            RETURNING seq`,
      );
      return Number(row?.seq);
    } catch (error) {
      // Two turns at once read the same MAX(seq); the unique (call_id, seq) lets one in.
      if (!isUniqueViolation(error) || attempt >= 5) throw error;
    }
  }
}

/** The caller's audio reached the model: the call is in progress from `at` (the first time only). */
export async function markAnswered(ctx: ServiceCtx, callId: string, at: Date): Promise<void> {
  await getCallRow(ctx, callId);
  await ctx.db
    .update(calls)
    .set({ answeredAt: sql`COALESCE(${calls.answeredAt}, ${at.toISOString()}::timestamptz)`, status: "in_progress", updatedAt: ctx.now() })
    .where(and(eq(calls.id, callId), isNull(calls.endedAt)));
}

/**
 * Holds `credits` more for a call going on. False when the organisation has no more (the
 * bridge then says goodbye) or the call has ended. Lock order as everywhere: the reservation
 * row, then the balance row.
 */
export async function extendCallHold(ctx: ServiceCtx, callId: string, credits: number): Promise<boolean> {
  const call = await getCallRow(ctx, callId);
  if (call.endedAt || !call.reservationId || !Number.isSafeInteger(credits) || credits <= 0) return false;
  const reservationId = call.reservationId;
  const entryId = newId("cle");
  return withTransaction(ctx, async (tx) => {
    const [held] = await queryRows<{ id: string }>(
      tx as unknown as Database,
      sql`SELECT id FROM credit_reservations WHERE id = ${reservationId} AND status = 'held' FOR UPDATE`,
    );
    if (!held) return false;
    const [extended] = await queryRows<{ balance: number }>(
      tx as unknown as Database,
      sql`
        WITH ${debitedCte(call.orgId, credits)},
        grown AS (
          UPDATE credit_reservations SET amount = amount + ${credits}
          WHERE id = ${reservationId} AND EXISTS (SELECT 1 FROM debited)
        )
        INSERT INTO credit_ledger (id, org_id, kind, amount, balance_after, reference_type, reference_id, note)
        SELECT ${entryId}, ${call.orgId}, 'reservation', ${-credits}, balance, 'reservation_extension', ${`${reservationId}/${entryId}`}, ${`${CALL_FEATURE} ${call.id}`}
        FROM debited
        RETURNING balance_after AS balance`,
    );
    return extended !== undefined;
  });
}

export interface CallEnd {
  status: CallStatus;
  endReason: string;
  endedAt: Date;
  usage: UsageLine[];
  /** Twilio's own count of the call's seconds, when it reported one. */
  durationS?: number;
  /** The seconds the bridge billed (talk time from the stream's start), so the record and the bill agree until Twilio reports. */
  billedSeconds?: number;
}

/**
 * Ends a call exactly once: the first caller (bridge or status callback) sets `ended_at`, settles
 * the credit hold with the usage lines and records the call on the assistant's agent; any later
 * caller gets false and changes nothing.
 */
export async function finalizeCall(ctx: ServiceCtx, callId: string, end: CallEnd): Promise<boolean> {
  const call = await getCallRow(ctx, callId);
  const endedAt = end.endedAt.toISOString();
  const cost = end.usage.reduce((sum, line) => sum + line.credits, 0);
  // `ended_at IS NULL` decides a race between the bridge and Twilio's callback: one row, one winner.
  const [ended] = await ctx.db
    .update(calls)
    .set({
      status: end.status,
      endReason: end.endReason,
      endedAt: end.endedAt,
      durationS:
        // Twilio's count when its callback came first, else the seconds billed, else from answer to end.
        end.durationS ??
        (end.billedSeconds !== undefined
          ? sql`COALESCE(${calls.durationS}, ${end.billedSeconds}::int)`
          : sql`COALESCE(${calls.durationS}, GREATEST(0, ROUND(EXTRACT(EPOCH FROM (${endedAt}::timestamptz - COALESCE(${calls.answeredAt}, ${calls.startedAt})))))::int)`),
      usage: end.usage,
      costCredits: cost,
      streamTokenHash: null,
      streamTokenExpiresAt: null,
      updatedAt: ctx.now(),
    })
    .where(and(eq(calls.id, call.id), isNull(calls.endedAt)))
    .returning();
  if (!ended) return false;

  if (ended.reservationId) {
    const settlement = await settleReservation(ctx, ended.reservationId, cost, end.usage);
    if (settlement.charged !== cost) await ctx.db.update(calls).set({ costCredits: settlement.charged }).where(eq(calls.id, call.id));
    ended.costCredits = settlement.charged;
  }
  await recordCallOnAgent(ctx, ended);
  return true;
}

/** Call minutes (activity), cost and a transfer (outcome) on the assistant's agent, so the business can bill its own customers. */
async function recordCallOnAgent(ctx: ServiceCtx, call: CallRow): Promise<void> {
  const agentCtx = ctx.actor?.orgId === call.orgId ? ctx : { ...ctx, actor: systemActor(call.orgId, []) };
  try {
    const assistant = await getAssistantInOrg(agentCtx, call.assistantId);
    const occurred_at = call.endedAt ?? ctx.now();
    const metadata = { call_id: call.id, call_sid: call.callSid, direction: call.direction, status: call.status };
    const minutes = ((call.durationS ?? 0) / 60).toFixed(3);
    if (Number(minutes) > 0) {
      await recordOwnAgentEvent(agentCtx, assistant.agent_id, {
        kind: "activity",
        id: `${call.id}:minutes`,
        type: "call_minutes",
        quantity: minutes,
        occurred_at,
        metadata,
      });
    }
    // 1 credit = USD 0.001: cents, rounded up.
    const cents = Math.ceil((call.costCredits ?? 0) / 10);
    if (cents > 0) {
      await recordOwnAgentEvent(agentCtx, assistant.agent_id, {
        kind: "cost",
        id: `${call.id}:cost`,
        type: "call_cost",
        amount: cents,
        currency: "USD",
        occurred_at,
        metadata,
      });
    }
    if (call.endReason === "transferred") {
      await recordOwnAgentEvent(agentCtx, assistant.agent_id, {
        kind: "outcome",
        id: `${call.id}:transferred`,
        type: "transferred",
        success: true,
        occurred_at,
        metadata,
      });
    }
  } catch (error) {
    // The call and its money are already final; a closed billing period must not undo that.
    ctx.log.warn("call not recorded on the assistant's agent", { call_id: call.id, error: error instanceof Error ? error.message : String(error) });
  }
}

/** What Twilio's status callback tells us about a call: its final status and its seconds. */
export async function reconcileCallStatus(
  ctx: ServiceCtx,
  callSid: string,
  report: { status: CallStatus; durationS?: number; at: Date },
): Promise<"unknown" | "finalized" | "updated" | "unchanged"> {
  const [call] = await ctx.db
    .select()
    .from(calls)
    .where(eq(calls.callSid, callSid.slice(0, 64)));
  if (!call) return "unknown";
  const final = !["queued", "ringing", "in_progress"].includes(report.status);
  // The stream token is cleared when the stream opens: until then no bridge owns the call.
  const streamOpened = call.streamTokenHash === null;
  if (final && !call.endedAt && !streamOpened) {
    const won = await finalizeCall({ ...ctx, actor: systemActor(call.orgId, []) }, call.id, {
      status: report.status,
      endReason: `twilio_${report.status}`,
      endedAt: report.at,
      usage: [],
      durationS: report.durationS,
    });
    if (won) return "finalized";
  }
  // Twilio's word on status and duration wins for the record, once the call is over.
  const changes: Partial<typeof calls.$inferInsert> = {};
  if (final && call.endedAt) {
    changes.status = report.status;
    if (report.durationS !== undefined) changes.durationS = report.durationS;
  } else if (final && report.durationS !== undefined) {
    // The bridge still owns the open call and will finalise it; Twilio's seconds are kept for it.
    changes.durationS = report.durationS;
  } else if (!final && !call.endedAt && call.status !== "in_progress") {
    changes.status = report.status;
  }
  if (Object.keys(changes).length === 0) return "unchanged";
  await ctx.db
    .update(calls)
    .set({ ...changes, updatedAt: ctx.now() })
    .where(eq(calls.id, call.id));
  return "updated";
}

async function turnsOf(ctx: ServiceCtx, callId: string) {
  return ctx.db.select().from(callTurns).where(eq(callTurns.callId, callId)).orderBy(asc(callTurns.seq));
}

function callView(row: CallRow, turns: (typeof callTurns.$inferSelect)[] | undefined): Call {
  return {
    id: row.id,
    call_sid: row.callSid,
    assistant_id: row.assistantId,
    from: row.fromNumber,
    to: row.toNumber,
    direction: row.direction,
    status: row.status,
    started_at: row.startedAt.toISOString(),
    answered_at: row.answeredAt?.toISOString() ?? null,
    ended_at: row.endedAt?.toISOString() ?? null,
    duration_s: row.durationS,
    end_reason: row.endReason,
    ...(turns ? { transcript: turns.map((t) => ({ role: t.role, text: t.text, at: t.at.toISOString() })) } : {}),
    usage: (row.usage ?? []).map((line) => ({
      provider: line.provider,
      model: line.model,
      input_tokens: line.inputTokens ?? 0,
      output_tokens: line.outputTokens ?? 0,
      audio_seconds: line.audioSeconds ?? 0,
      credits: line.credits,
    })),
    cost: row.costCredits === null ? null : { credits: row.costCredits },
  };
}

/** The organisation's calls, newest first; filters by assistant, status and start date (`from` inclusive, `to` exclusive). */
export async function listCalls(ctx: ServiceCtx, query: CallListInput): Promise<Page<Call>> {
  assertCan(ctx, "calls:read");
  const orgId = requireOrgId(ctx);
  const rows = await ctx.db
    .select()
    .from(calls)
    .where(
      and(
        eq(calls.orgId, orgId),
        query.assistant_id ? eq(calls.assistantId, query.assistant_id) : undefined,
        query.status ? eq(calls.status, query.status) : undefined,
        query.from ? gte(calls.startedAt, query.from) : undefined,
        query.to ? lt(calls.startedAt, query.to) : undefined,
        query.cursor ? lt(calls.id, query.cursor) : undefined,
      ),
    )
    .orderBy(desc(calls.id))
    .limit(query.limit + 1);
  return toPage(
    rows,
    query.limit,
    (r) => r.id,
    (row) => callView(row, undefined),
  );
}

/** One call of the organisation with its transcript. */
export async function getCall(ctx: ServiceCtx, callId: string): Promise<Call> {
  assertCan(ctx, "calls:read");
  requireOrgId(ctx);
  const row = await getCallRow(ctx, callId);
  return callView(row, await turnsOf(ctx, row.id));
}
