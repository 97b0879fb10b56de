import { sql } from "drizzle-orm";
import { index, integer, jsonb, pgTable, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";
import { assistants } from "./assistants";
import { creditReservations } from "./credits";
import { organizations } from "./tenancy";

export const CALL_DIRECTIONS = ["inbound", "outbound"] as const;
export const CALL_STATUSES = ["queued", "ringing", "in_progress", "completed", "failed", "busy", "no_answer"] as const;
export const CALL_TURN_ROLES = ["caller", "assistant", "tool"] as const;
export type CallDirection = (typeof CALL_DIRECTIONS)[number];
export type CallStatus = (typeof CALL_STATUSES)[number];
export type CallTurnRole = (typeof CALL_TURN_ROLES)[number];

/** One priced part of a call (the credits module's `UsageLine`): a model's tokens or audio seconds. */
export interface CallUsageLine {
  provider: string;
  model: string;
  priceSource: "exact" | "prefix" | "provider_default";
  inputTokens?: number;
  outputTokens?: number;
  audioSeconds?: number;
  characters?: number;
  credits: number;
}

/**
 * A Twilio number that rings one assistant. The number is unique across organisations: Twilio
 * sends one `To` per call, and it must name exactly one assistant.
 */
export const phoneNumbers = pgTable(
  "phone_numbers",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    assistantId: text("assistant_id")
      .notNull()
      .references(() => assistants.id, { onDelete: "cascade" }),
    /** E.164, e.g. `+15125550123`. */
    phoneNumber: text("phone_number").notNull(),
    /** Twilio's IncomingPhoneNumber sid (`PN…`). */
    twilioSid: text("twilio_sid").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex("phone_numbers_number_key").on(t.phoneNumber), index("phone_numbers_assistant_idx").on(t.orgId, t.assistantId, t.id)],
);

/**
 * One phone call of an assistant. `ended_at` is set exactly once, by whichever of the bridge and
 * Twilio's status callback finishes the call first; the credit hold is settled at that moment.
 */
export const calls = pgTable(
  "calls",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    assistantId: text("assistant_id")
      .notNull()
      .references(() => assistants.id, { onDelete: "cascade" }),
    callSid: text("call_sid").notNull(),
    fromNumber: text("from_number").notNull(),
    toNumber: text("to_number").notNull(),
    direction: text("direction", { enum: CALL_DIRECTIONS }).notNull(),
    status: text("status", { enum: CALL_STATUSES }).notNull(),
    startedAt: timestamp("started_at", { withTimezone: true, mode: "date" }).notNull(),
    answeredAt: timestamp("answered_at", { withTimezone: true, mode: "date" }),
    endedAt: timestamp("ended_at", { withTimezone: true, mode: "date" }),
    durationS: integer("duration_s"),
    endReason: text("end_reason"),
    /** SHA-256 (hex) of the Media Streams token; the token itself is only in the TwiML handed to Twilio. */
    streamTokenHash: text("stream_token_hash"),
    streamTokenExpiresAt: timestamp("stream_token_expires_at", { withTimezone: true, mode: "date" }),
    /** The credit hold taken when the call was answered, settled when it ends. */
    reservationId: text("reservation_id").references(() => creditReservations.id),
    usage: jsonb("usage").$type<CallUsageLine[]>(),
    costCredits: integer("cost_credits"),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("calls_call_sid_key").on(t.callSid),
    index("calls_org_idx").on(t.orgId, t.id),
    index("calls_assistant_idx").on(t.orgId, t.assistantId, t.id),
    index("calls_open_idx").on(t.startedAt).where(sql`${t.endedAt} is null`),
  ],
);

/**
 * The transcript of a call, one row per turn as the bridge hears it: written as the call goes,
 * so a Durable Object eviction never loses what was said. `seq` orders the turns of one call.
 */
export const callTurns = pgTable(
  "call_turns",
  {
    id: text("id").primaryKey(),
    callId: text("call_id")
      .notNull()
      .references(() => calls.id, { onDelete: "cascade" }),
    orgId: text("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    seq: integer("seq").notNull(),
    role: text("role", { enum: CALL_TURN_ROLES }).notNull(),
    text: text("text").notNull(),
    at: timestamp("at", { withTimezone: true, mode: "date" }).notNull(),
  },
  (t) => [uniqueIndex("call_turns_call_seq_key").on(t.callId, t.seq)],
);
